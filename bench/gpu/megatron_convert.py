"""Megatron-Core's own TRT-LLM converter on a legacy (torch) checkpoint, files → files, for comparison with
mcore-export (BENCHMARKS.md, GPU section). Not part of the product.

Usage: python3 megatron_convert.py MEGATRON_DIR CKPT_DIR OUT_DIR DEVICE [DTYPE]
  MEGATRON_DIR holds megatron/core from NVIDIA/Megatron-LM d98e8a64 and a stand-in `tensorrt_llm` (it is not
  installed there): configs keep their kwargs, Mapping computes tp/pp ranks, pad_vocab_size/str_dtype_to_torch/
  non_gated_version/MoeConfig as TensorRT-LLM defines them. Nothing of TensorRT-LLM's runs in the timed part.
  DEVICE cpu: the state dict stays on the CPU (torch.load mmap); cuda: it is moved to the GPU first (as
  Megatron's docstring recommends), the converted weights come back to the CPU to be saved.
Times: load (torch.load), to_device, convert (get_trtllm_pretrained_config_and_model_weights), save
(safetensors save_file + config.json), total. Prints one JSON line.
"""
import glob
import json
import os
import sys
import time

import torch

megatron_dir, ckpt_dir, out_dir, device = sys.argv[1:5]
dtype_name = sys.argv[5] if len(sys.argv) > 5 else "bfloat16"
sys.path.insert(0, megatron_dir)
import torch.nn.functional as F  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

from megatron.core.export.data_type import DataType  # noqa: E402
from megatron.core.export.export_config import ExportConfig  # noqa: E402
from megatron.core.export.model_type import ModelType  # noqa: E402
from megatron.core.export.trtllm.trtllm_helper import TRTLLMHelper  # noqa: E402
from megatron.core.transformer.transformer_config import TransformerConfig  # noqa: E402


def sync():
    if device == "cuda":
        torch.cuda.synchronize()


t = {}
t0 = time.perf_counter()
path = glob.glob(os.path.join(ckpt_dir, "iter_*", "mp_rank_00", "model_optim_rng.pt"))[0]
ckpt = torch.load(path, map_location="cpu", weights_only=False, mmap=True)
a = ckpt["args"]
sd = ckpt["model"]
t["load_s"] = time.perf_counter() - t0

t1 = time.perf_counter()
if device == "cuda":
    sd = {k: (v.to("cuda", non_blocking=False) if torch.is_tensor(v) else v) for k, v in sd.items()}
    sync()
t["to_device_s"] = time.perf_counter() - t1

config = TransformerConfig(
    num_layers=a.num_layers, hidden_size=a.hidden_size, ffn_hidden_size=a.ffn_hidden_size, num_attention_heads=a.num_attention_heads,
    num_query_groups=a.num_query_groups, kv_channels=a.kv_channels, gated_linear_unit=bool(a.swiglu), activation_func=F.silu,
    normalization=a.normalization, add_bias_linear=a.add_bias_linear, layernorm_epsilon=a.norm_epsilon, bf16=True, params_dtype=torch.bfloat16,
)
helper = TRTLLMHelper(
    transformer_config=config, model_type=ModelType.llama, position_embedding_type="rope", max_position_embeddings=a.max_position_embeddings,
    rotary_base=a.rotary_base, activation="swiglu", share_embeddings_and_output_weights=not a.untie_embeddings_and_output_weights,
)
t2 = time.perf_counter()
weights, configs = helper.get_trtllm_pretrained_config_and_model_weights(
    model_state_dict=sd, dtype=getattr(DataType, dtype_name), export_config=ExportConfig(inference_tp_size=1), gpus_per_node=1
)
sync()
t["convert_s"] = time.perf_counter() - t2

t3 = time.perf_counter()
os.makedirs(out_dir, exist_ok=True)
w = {k: v.detach().to("cpu").contiguous() for k, v in weights[0].items()}
save_file(w, os.path.join(out_dir, "rank0.safetensors"))
with open(os.path.join(out_dir, "config.json"), "w") as f:
    json.dump(configs[0].to_dict(), f, indent=2, default=str)
os.sync()
t["save_s"] = time.perf_counter() - t3
t["total_s"] = time.perf_counter() - t0
out_bytes = os.path.getsize(os.path.join(out_dir, "rank0.safetensors"))
print(json.dumps({"device": device, "dtype": dtype_name, "tensors": len(w), "out_bytes": out_bytes, "torch": torch.__version__, **{k: round(v, 3) for k, v in t.items()}}), flush=True)
