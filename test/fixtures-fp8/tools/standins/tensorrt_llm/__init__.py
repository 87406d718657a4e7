"""Stand-in for the few `tensorrt_llm` names Megatron-Core's export imports (TensorRT-LLM is not installable on a
CPU-only box). Behaviour as TensorRT-LLM 1.x defines it: Mapping's tp_rank = rank % tp, pp_rank = rank // tp,
pp_layers = contiguous split with the first (layers % pp) stages one layer longer; config classes keep their
keyword arguments (to_dict() = those kwargs plus `mapping` {world_size, tp_size, pp_size}). Test-data tooling."""
from . import _utils, functional, layers, models  # noqa: F401


class Mapping:
    def __init__(self, world_size=1, rank=0, gpus_per_node=8, tp_size=1, pp_size=1, **_kw):
        self.world_size, self.rank, self.tp_size, self.pp_size = world_size, rank, tp_size, pp_size
        self.tp_rank = rank % tp_size
        self.pp_rank = rank // tp_size

    def pp_layers(self, num_layers):
        base, extra = divmod(num_layers, self.pp_size)
        start = self.pp_rank * base + min(self.pp_rank, extra)
        return list(range(start, start + base + (1 if self.pp_rank < extra else 0)))

    def is_first_pp_rank(self):
        return self.pp_rank == 0

    def is_last_pp_rank(self):
        return self.pp_rank == self.pp_size - 1
