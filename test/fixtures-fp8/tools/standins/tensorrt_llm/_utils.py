"""tensorrt_llm._utils.pad_vocab_size / str_dtype_to_torch (stand-in)."""
import torch


def pad_vocab_size(vocab_size, tp_size):
    return (vocab_size + tp_size - 1) // tp_size * tp_size


def str_dtype_to_torch(dtype):
    return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[dtype]
