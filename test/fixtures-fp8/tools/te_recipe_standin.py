"""The FP8 recipe classes of NVIDIA/TransformerEngine `transformer_engine/common/recipe/__init__.py` (v2.5),
with the same module path, class names, field names, field order and defaults, so that `pickle.dumps` of a
`DelayedScaling()` names the same globals and carries the same state as Transformer Engine's own. TE declares
`DelayedScaling` as a pydantic dataclass; pydantic is not installed here and a stdlib dataclass pickles its field
values the same way (class via NEWOBJ, `__dict__` via BUILD). Test-data generation only: make_checkpoints.py
registers this file as `transformer_engine.common.recipe` after Megatron is imported (Megatron must not see a
`transformer_engine` package, it would take it for a real one)."""
from dataclasses import dataclass
from enum import Enum
from typing import Callable, NamedTuple, Optional, Union


class _FormatHelper(NamedTuple):
    max_fwd: float
    max_bwd: float


class Format(Enum):
    E4M3 = _FormatHelper(max_fwd=448, max_bwd=448)
    E5M2 = _FormatHelper(max_fwd=57344, max_bwd=57344)
    HYBRID = _FormatHelper(max_fwd=E4M3.max_fwd, max_bwd=E5M2.max_bwd)


class Recipe:
    def delayed(self):
        return isinstance(self, DelayedScaling)


@dataclass()
class DelayedScaling(Recipe):
    margin: int = 0
    fp8_format: Format = Format.HYBRID
    amax_history_len: int = 1024
    amax_compute_algo: Union[str, Callable] = "max"
    scaling_factor_compute_algo: Optional[Callable] = None
    reduce_amax: bool = True
    fp8_dpa: bool = False
    fp8_mha: bool = False


@dataclass()
class Float8CurrentScaling(Recipe):
    fp8_format: Format = Format.HYBRID
