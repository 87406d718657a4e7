"""Megatron-Core's own FP8 TensorRT-LLM export of the FP8 test checkpoints: the reference conversions of
test/fixtures-fp8/reference (test data; nothing here is product code).

  python make_reference.py MEGATRON_DIR FP8_FIXTURES

For each case: torch.load of the TE 1.x legacy checkpoint (map_location cpu), TransformerConfig and TRTLLMHelper
built from its args as a Megatron user writes them, then `TRTLLMHelper.get_trtllm_pretrained_config_and_model_weights(
model_state_dict=model, dtype=..., export_config=ExportConfig(inference_tp_size, inference_pp_size),
fp8_quantized=True, fp8_kvcache=...)`. Files: config.json = `json.dump(config.to_dict(), indent=2)` and a newline (the kwargs
Megatron passed plus mapping), rank{N}.safetensors = the per-rank dict it returned (each tensor copied to
contiguous un-aliased CPU storage: safetensors refuses shared storage; values, dtypes and shapes untouched).

The one patch: Megatron's `_load_scaling_factors` calls `torch.load(val)` on the `io.BytesIO` extra state without
`map_location`; TE 1.x state tensors are tagged cuda:0, so on a CPU-only machine it raises. While the helper runs,
`torch.load` of an `io.BytesIO` gets `map_location="cpu"` (nothing else changes). The unpatched run's error and
Megatron's error on the TE 2.x checkpoint are recorded in reference/ERRORS.txt.

On-device conversion (`distributed_*` cases: `on_device_distributed_conversion=True`,
`DistributedTRTLLMModelWeightsConverter`) runs as one process (torch.distributed over gloo, world size 1,
`parallel_state.initialize_model_parallel(1, 1)`), `vocab_size` = the tokenizer's, `gpus_per_node=1`. That converter
copies each weight into `torch.empty(..., pin_memory=True)`, which a CPU-only torch refuses; while it runs,
`torch.empty` gets `pin_memory=False` (pinned or not, the values are the same). No other change.
"""
import functools
import io
import json
import os
import shutil
import sys
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import megatron_env  # noqa: E402

megatron_dir, root = sys.argv[1:3]
megatron_env.setup(megatron_dir)
import torch  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

from megatron.core.export.data_type import DataType  # noqa: E402
from megatron.core.export.export_config import ExportConfig  # noqa: E402
from megatron.core.export.model_type import ModelType  # noqa: E402
from megatron.core.export.trtllm.trtllm_helper import TRTLLMHelper  # noqa: E402
from megatron.core.transformer.transformer_config import TransformerConfig  # noqa: E402

HELPER = {"llama": (ModelType.llama, "swiglu"), "gpt2": (ModelType.gpt, "gelu"), "gptnext": (ModelType.gptnext, "squared-relu")}
# (model, tp, pp, dtype, fp8_kvcache)
CASES = [
    ("llama", 1, 1, "bfloat16", False),
    ("llama", 2, 1, "bfloat16", False),
    ("llama", 1, 2, "bfloat16", True),
    ("llama", 2, 2, "float16", True),
    ("gpt2", 1, 1, "bfloat16", False),
    ("gpt2", 2, 1, "float32", True),
    ("gptnext", 1, 1, "bfloat16", False),
    ("gptnext", 2, 1, "bfloat16", True),
]


def load(model, te):
    path = os.path.join(root, "megatron", model, f"te{te}", "torch", "tp1pp1", "iter_0000010", "mp_rank_00", "model_optim_rng.pt")
    return torch.load(path, map_location="cpu", weights_only=False)


def helper_for(model, a):
    mt, act = HELPER[model]
    dt = torch.bfloat16 if a.bf16 else torch.float16 if a.fp16 else torch.float32
    config = TransformerConfig(
        num_layers=a.num_layers, hidden_size=a.hidden_size, ffn_hidden_size=a.ffn_hidden_size, num_attention_heads=a.num_attention_heads,
        num_query_groups=a.num_query_groups if a.group_query_attention else None, kv_channels=a.kv_channels,
        gated_linear_unit=bool(a.swiglu), normalization=a.normalization, layernorm_zero_centered_gamma=bool(a.layernorm_zero_centered_gamma),
        add_bias_linear=a.add_bias_linear, add_qkv_bias=a.add_qkv_bias, layernorm_epsilon=a.layernorm_epsilon,
        bf16=bool(a.bf16), fp16=bool(a.fp16), params_dtype=dt,
    )
    return TRTLLMHelper(
        transformer_config=config, model_type=mt, position_embedding_type=a.position_embedding_type,
        max_position_embeddings=a.max_position_embeddings, rotary_percentage=a.rotary_percent, rotary_base=a.rotary_base,
        activation=act, share_embeddings_and_output_weights=not a.untie_embeddings_and_output_weights,
    )


def convert(model, ck, tp, pp, dtype, kv):
    helper = helper_for(model, ck["args"])
    return helper.get_trtllm_pretrained_config_and_model_weights(
        model_state_dict=dict(ck["model"]), dtype=getattr(DataType, dtype),
        export_config=ExportConfig(inference_tp_size=tp, inference_pp_size=pp), fp8_quantized=True, fp8_kvcache=kv,
    )


class map_bytesio_to_cpu:
    """The patch: torch.load(<io.BytesIO>) → torch.load(<io.BytesIO>, map_location="cpu") while active."""

    def __enter__(self):
        self.orig = torch.load

        @functools.wraps(self.orig)
        def patched(f, *args, **kwargs):
            if isinstance(f, io.BytesIO) and "map_location" not in kwargs:
                kwargs["map_location"] = "cpu"
            return self.orig(f, *args, **kwargs)

        torch.load = patched

    def __exit__(self, *exc):
        torch.load = self.orig


errors = []
for model, te, patched in (("llama", 1, False), ("llama", 2, True)):
    try:
        if patched:
            with map_bytesio_to_cpu():
                convert(model, load(model, te), 1, 1, "bfloat16", False)
        else:
            convert(model, load(model, te), 1, 1, "bfloat16", False)
        errors.append(f"{model} te{te} (patched={patched}): no error")
    except Exception as e:  # noqa: BLE001 (recorded, not handled)
        last = traceback.extract_tb(e.__traceback__)[-1]
        errors.append(f"{model} te{te} (map_location patch {'on' if patched else 'off'}): {type(e).__name__}: {str(e).splitlines()[0]}  [{os.path.basename(last.filename)}:{last.lineno}]")

out_root = os.path.join(root, "reference")
shutil.rmtree(out_root, ignore_errors=True)
os.makedirs(out_root)
with open(os.path.join(out_root, "ERRORS.txt"), "w") as f:
    f.write("\n".join(errors) + "\n")
print("\n".join(errors))

for model, tp, pp, dtype, kv in CASES:
    with map_bytesio_to_cpu():
        weights, configs = convert(model, load(model, 1), tp, pp, dtype, kv)
    case = f"tp{tp}_pp{pp}_{dtype}" + ("_kvcache" if kv else "")
    d = os.path.join(out_root, model, case)
    os.makedirs(d)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(configs[0].to_dict(), f, indent=2)
        f.write("\n")
    for rank, w in enumerate(weights):
        save_file({k: v.detach().to("cpu").contiguous().clone() for k, v in w.items()}, os.path.join(d, f"rank{rank}.safetensors"))
    print("wrote", d, len(weights), "ranks")


class no_pinned_memory:
    """The second patch (on-device cases only): torch.empty(..., pin_memory=True) → pin_memory=False."""

    def __enter__(self):
        self.orig = torch.empty

        @functools.wraps(self.orig)
        def patched(*args, **kwargs):
            kwargs["pin_memory"] = False
            return self.orig(*args, **kwargs)

        torch.empty = patched

    def __exit__(self, *exc):
        torch.empty = self.orig


import torch.distributed as dist  # noqa: E402

from megatron.core import parallel_state  # noqa: E402

os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
os.environ.setdefault("MASTER_PORT", "29533")
dist.init_process_group("gloo", rank=0, world_size=1)
parallel_state.initialize_model_parallel(1, 1)
# (model, tokenizer vocab, fp8_kvcache)
for model, vocab, kv in (("llama", 300, True), ("gpt2", 200, False)):
    ck = load(model, 1)
    with map_bytesio_to_cpu(), no_pinned_memory():
        weights, configs = helper_for(model, ck["args"]).get_trtllm_pretrained_config_and_model_weights(
            model_state_dict=dict(ck["model"]), dtype=DataType.bfloat16, on_device_distributed_conversion=True,
            vocab_size=vocab, gpus_per_node=1, fp8_quantized=True, fp8_kvcache=kv,
        )
    d = os.path.join(out_root, model, "distributed_tp1_bfloat16" + ("_kvcache" if kv else ""))
    os.makedirs(d)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(configs[0].to_dict(), f, indent=2)
        f.write("\n")
    save_file({k: v.detach().to("cpu").contiguous().clone() for k, v in weights[0].items()}, os.path.join(d, "rank0.safetensors"))
    print("wrote", d, "(on-device)")
dist.destroy_process_group()
