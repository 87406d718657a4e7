"""Interop check for generated Megatron checkpoints: real PyTorch must load what tools/generate wrote,
and every tensor's bytes must hash to what the generator's sidecar (mcore-generate.json) says.
Usage: python generator_check.py <checkpoint root>   → prints one JSON line with the findings."""
import argparse
import hashlib
import json
import os
import signal
import sys

import torch


def sha(t: torch.Tensor) -> str:
    t = t.contiguous()
    return hashlib.sha256(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"").hexdigest()


def check_legacy(root, man, out):
    it = os.path.join(root, man["iterationDir"])
    for f in man["files"]:
        path = os.path.join(it, f["path"])
        d = torch.load(path, map_location="cpu", weights_only=False)
        out["loaded_files"] += 1
        # the same file must also load under weights_only with the two non-torch classes allow-listed
        with torch.serialization.safe_globals([argparse.Namespace, signal.Signals]):
            d2 = torch.load(path, map_location="cpu", weights_only=True)
        assert isinstance(d2["args"], argparse.Namespace)
        out["weights_only_files"] += 1
        assert isinstance(d["args"], argparse.Namespace), type(d["args"])
        assert d["checkpoint_version"] == 3.0 and d["iteration"] == man["iteration"]
        model = d["model"]
        want = {t["key"]: t for t in f["tensors"]}
        tensor_keys = [k for k, v in model.items() if v is not None]
        if sorted(tensor_keys) != sorted(want):
            out["errors"].append(f"{f['path']}: keys differ: {sorted(set(tensor_keys) ^ set(want))}")
        for k in tensor_keys:
            v = model[k]
            w = want.get(k)
            if w is None:
                continue
            check_tensor(out, f"{f['path']}:{k}", v, w)
        for k, v in model.items():
            if v is None and not k.endswith("._extra_state"):
                out["errors"].append(f"{f['path']}:{k} is None")


def check_tensor(out, where, v, w):
    out["tensors"] += 1
    if str(v.dtype) != "torch." + w["dtype"]:
        out["errors"].append(f"{where}: dtype {v.dtype} != {w['dtype']}")
    if list(v.shape) != w["shape"]:
        out["errors"].append(f"{where}: shape {list(v.shape)} != {w['shape']}")
    if w["sha256"] and sha(v) != w["sha256"]:
        out["errors"].append(f"{where}: sha256 differs")
    if v.is_floating_point():
        f = v.float()
        if not torch.isfinite(f).all():
            out["errors"].append(f"{where}: non-finite values")
        if (f == 0).any():
            out["errors"].append(f"{where}: zero values")


def check_dist(root, man, out):
    from torch.distributed.checkpoint import FileSystemReader
    from torch.distributed.checkpoint.metadata import TensorStorageMetadata
    from torch.distributed.checkpoint.state_dict_loader import load

    it = os.path.join(root, man["iterationDir"])
    reader = FileSystemReader(it)
    md = reader.read_metadata()
    # DCP load of every tensor into pre-allocated global tensors (torch does the chunk assembly)
    sd = {k: torch.empty(tuple(m.size), dtype=m.properties.dtype) for k, m in md.state_dict_metadata.items() if isinstance(m, TensorStorageMetadata)}
    sd["common_state/shard_0_1"] = None
    load(sd, storage_reader=reader, no_dist=True)
    out["loaded_files"] += len(man["files"])
    common = sd["common_state/shard_0_1"]
    if not (isinstance(common, list) and isinstance(common[0]["args"], argparse.Namespace)):
        out["errors"].append(f"common_state is {type(common)}")
    for f in man["files"]:
        for w in f["tensors"]:
            g = sd[w["key"]]
            idx = tuple(slice(o, o + s) for o, s in zip(w["offset"], w["shape"]))
            check_tensor(out, f"{w['key']}@{w['offset']}", g[idx], w)
    # every chunk in .metadata is in the sidecar and the chunks tile each tensor exactly
    n_chunks = sum(len(m.chunks) for m in md.state_dict_metadata.values() if isinstance(m, TensorStorageMetadata))
    n_side = sum(len(f["tensors"]) for f in man["files"])
    if n_chunks != n_side:
        out["errors"].append(f"{n_chunks} chunks in .metadata, {n_side} in the sidecar")
    for k, m in md.state_dict_metadata.items():
        if isinstance(m, TensorStorageMetadata):
            cover = sum(int(torch.Size(c.sizes).numel()) for c in m.chunks)
            if cover != m.size.numel():
                out["errors"].append(f"{k}: chunks cover {cover} of {m.size.numel()} elements")


def main():
    root = sys.argv[1]
    man = json.load(open(os.path.join(root, "mcore-generate.json")))
    out = {"torch": torch.__version__, "loaded_files": 0, "weights_only_files": 0, "tensors": 0, "errors": []}
    try:
        (check_legacy if man["format"] == "torch" else check_dist)(root, man, out)
    except Exception as e:  # report, do not hide: the test prints it
        import traceback

        out["errors"].append("exception: " + "".join(traceback.format_exception(e))[-2000:])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
