"""tensorrt_llm.functional.non_gated_version (stand-in)."""


def non_gated_version(hidden_act):
    return {"swiglu": "silu", "geglu": "gelu", "fast-swiglu": "silu", "fast-geglu": "gelu"}.get(hidden_act, hidden_act)
