"""Puts Megatron-LM (NVIDIA/Megatron-LM d98e8a64, a plain copy of its `megatron/` directory) and the stand-ins
on sys.path so that `megatron.core` imports on a CPU-only box without GPU packages. Test-data tooling only.

The one module stubbed is `megatron.core.transformer.moe.ops.paged_stash`: Triton GPU kernels for MoE paging,
imported unconditionally by `megatron.core` and never used by the TensorRT-LLM export (Triton is not installed;
a fake `triton` package would break torch._dynamo's own Triton probe)."""
import os
import sys
import types
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))


def setup(megatron_dir: str) -> None:
    os.environ.setdefault("TORCHDYNAMO_DISABLE", "1")  # Megatron's jit_fuser is torch.compile: run eagerly
    warnings.filterwarnings("ignore")
    sys.path[:0] = [os.path.join(HERE, "standins"), megatron_dir]
    stub = types.ModuleType("megatron.core.transformer.moe.ops.paged_stash")
    stub.GLOBAL_BLOCK_SIZE = 1024
    stub.paged_stash_copy_kernel = None
    stub.paged_stash_pop_kernel = None
    sys.modules[stub.__name__] = stub
