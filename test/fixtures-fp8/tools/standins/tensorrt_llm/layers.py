"""tensorrt_llm.layers.MoeConfig (stand-in: the normalization-mode enum only)."""
from enum import IntEnum


class MoeConfig:
    class ExpertScaleNormalizationMode(IntEnum):
        NONE = 0
        RENORMALIZE = 1
        SPARSE_MIXER = 2
        DEVICE_LIMITED = 3
        DEVICE_LIMITED_RENORM = 4
