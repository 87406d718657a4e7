"""Global tensors of a Megatron checkpoint as PyTorch sees them, for comparison with our reader.
Legacy: torch.load every mp_rank file, merge TP shards by Megatron's rules (column-parallel and vocabulary
tensors on dim 0, SwiGLU fc1 as [gate_0; gate_1; ...; up_0; up_1; ...], row-parallel weights on dim 1,
norms and row-parallel biases replicated) and renumber PP-local layers. torch_dist: DCP load into the global
(stacked) tensors, unstack layers, undo the local-spec norm renames.
Usage: python generator_globals.py <root> → JSON {name: {dtype, shape, sha256}}."""
import glob
import hashlib
import json
import os
import re
import sys

import torch


def sha(t):
    t = t.contiguous()
    return hashlib.sha256(t.view(torch.uint8).numpy().tobytes()).hexdigest()


def legacy(it):
    files = sorted(glob.glob(os.path.join(it, "mp_rank_*", "model_optim_rng.pt")))
    shards = {}  # (tp, pp) -> model
    args = None
    for f in files:
        parts = os.path.basename(os.path.dirname(f)).split("_")[2:]
        d = torch.load(f, map_location="cpu", weights_only=False)
        args = d["args"]
        tp, pp = int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
        shards[(tp, pp)] = d["model"]
    T, P = args.tensor_model_parallel_size, args.pipeline_model_parallel_size
    per = args.num_layers // P
    out = {}
    for pp in range(P):
        for key in shards[(0, pp)]:
            v = shards[(0, pp)][key]
            if v is None:
                continue
            m = re.match(r"decoder\.layers\.(\d+)\.(.*)", key)
            name = f"decoder.layers.{int(m.group(1)) + pp * per}.{m.group(2)}" if m else key
            if name == "output_layer.weight" and not args.untie_embeddings_and_output_weights:
                continue  # the last stage's copy of tied embeddings
            parts = [shards[(tp, pp)][key] for tp in range(T)]
            if key.endswith("linear_fc1.weight") or key.endswith("linear_fc1.bias"):
                if args.swiglu:
                    halves = [p.chunk(2, dim=0) for p in parts]
                    v = torch.cat([h[0] for h in halves] + [h[1] for h in halves], dim=0)
                else:
                    v = torch.cat(parts, dim=0)
            elif key.endswith("linear_proj.weight") or key.endswith("linear_fc2.weight"):
                v = torch.cat(parts, dim=1)
            elif "linear_qkv." in key or "word_embeddings" in key or key == "output_layer.weight":
                v = torch.cat(parts, dim=0)
            out[name] = v
    return out


RENAMES = [("self_attention.linear_qkv.layer_norm_", "input_layernorm."), ("mlp.linear_fc1.layer_norm_", "pre_mlp_layernorm.")]


def dist(it):
    from torch.distributed.checkpoint import FileSystemReader
    from torch.distributed.checkpoint.metadata import TensorStorageMetadata
    from torch.distributed.checkpoint.state_dict_loader import load

    reader = FileSystemReader(it)
    md = reader.read_metadata()
    sd = {k: torch.empty(tuple(m.size), dtype=m.properties.dtype) for k, m in md.state_dict_metadata.items() if isinstance(m, TensorStorageMetadata)}
    load(sd, storage_reader=reader, no_dist=True)
    out = {}
    for k, v in sd.items():
        if k.startswith("decoder.layers."):
            suffix = k[len("decoder.layers."):]
            for a, b in RENAMES:
                if suffix.startswith(a):
                    suffix = b + suffix[len(a):]
            for l in range(v.shape[0]):
                out[f"decoder.layers.{l}.{suffix}"] = v[l]
        else:
            out[k] = v
    return out


def main():
    root = sys.argv[1]
    it = os.path.join(root, "iter_%07d" % int(open(os.path.join(root, "latest_checkpointed_iteration.txt")).read().strip()))
    tensors = dist(it) if os.path.exists(os.path.join(it, "metadata.json")) else legacy(it)
    print(json.dumps({k: {"dtype": str(v.dtype).replace("torch.", ""), "shape": list(v.shape), "sha256": sha(v)} for k, v in tensors.items()}))


if __name__ == "__main__":
    main()
