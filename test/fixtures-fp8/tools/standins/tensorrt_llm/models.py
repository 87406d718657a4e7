"""tensorrt_llm.models config classes (stand-in): each keeps its kwargs; `mapping` is set by Megatron later."""
import types


class _Config:
    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.mapping = None
        for k, v in kwargs.items():
            setattr(self, k, v)

    def to_dict(self):
        d = dict(self.kwargs)
        m = self.mapping
        d["mapping"] = {"world_size": m.world_size, "tp_size": m.tp_size, "pp_size": m.pp_size}
        return d


class GPTConfig(_Config):
    pass


class LLaMAConfig(_Config):
    pass


class GemmaConfig(_Config):
    pass


class FalconConfig(_Config):
    pass


class DeciConfig(_Config):
    pass


gpt = types.SimpleNamespace(config=types.SimpleNamespace(GPTConfig=GPTConfig))
llama = types.SimpleNamespace(config=types.SimpleNamespace(LLaMAConfig=LLaMAConfig))
falcon = types.SimpleNamespace(config=types.SimpleNamespace(FalconConfig=FalconConfig))
nemotron_nas = types.SimpleNamespace(config=types.SimpleNamespace(DeciConfig=DeciConfig))
