"""Makes the FP8-trained test checkpoints of test/fixtures-fp8/megatron from the classic fixtures (test data, not
product code): the classic `tp1pp1` weights, renamed as a Transformer Engine model names them, with every linear
layer's `_extra_state` holding FP8 delayed-scaling state the way Transformer Engine serialises it:

  te1  TE 1.x (TransformerEngine v1.9 .. v1.13 `TransformerEngineBaseModule.get_extra_state`): an `io.BytesIO` of
       `torch.save(state)`, state = {scale_fwd, scale_inv_fwd, amax_history_fwd, scale_bwd, scale_inv_bwd,
       amax_history_bwd, extra_fp8_variables}; the tensors live on the GPU in training, so the inner archive's
       storages are tagged `cuda:0` (reproduced here by tagging them so while saving).
  te2  TE 2.x (v2.5 `get_extra_state`): a uint8 tensor holding `pickle.dumps(state)`, state = {recipe:
       DelayedScaling(), scale_fwd, amax_history_fwd, scale_bwd, amax_history_bwd, extra_fp8_variables}, CPU
       tensors, no scale_inv; `core_attention` without FP8 state holds an empty uint8 tensor.

Scaling factors are those delayed scaling would give (fp8_max / amax of a made-up history), with a per-layer margin
so some weights exceed e4m3's 448 (the cast saturates, as torch 2.13 on CPU does) and some use only part of the
range. Both encodings carry the same scale_fwd values; te1's scale_inv_fwd = torch.reciprocal(scale_fwd) (float32),
as TE 1.x computes it.

Formats: legacy `torch` (model_optim_rng.pt) for every model; `torch_dist` for llama, made from the classic
torch_dist checkpoint by appending the new `_extra_state` byte items (and the new args) to its .distcp file and
pointing its .metadata at them; the tensor chunks Megatron wrote are untouched.

  python make_checkpoints.py MEGATRON_DIR CLASSIC_FIXTURES OUT_DIR
"""
import copy
import io
import os
import pickle
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import megatron_env  # noqa: E402

megatron_dir, classic, out_root = sys.argv[1:4]
megatron_env.setup(megatron_dir)
import torch  # noqa: E402
import torch.serialization  # noqa: E402
import importlib.util  # noqa: E402
import types  # noqa: E402

import megatron.core  # noqa: E402,F401  (imported first: it must not see the stand-in below)

for _pkg in ("transformer_engine", "transformer_engine.common"):
    sys.modules[_pkg] = types.ModuleType(_pkg)
_spec = importlib.util.spec_from_file_location("transformer_engine.common.recipe", os.path.join(HERE, "te_recipe_standin.py"))
_recipe = importlib.util.module_from_spec(_spec)
sys.modules["transformer_engine.common.recipe"] = _recipe
_spec.loader.exec_module(_recipe)
DelayedScaling = _recipe.DelayedScaling

MODELS = ["llama", "gpt2", "gptnext"]
LINEARS = ["self_attention.linear_qkv", "self_attention.linear_proj", "mlp.linear_fc1", "mlp.linear_fc2"]
HISTORY = 4
# margin per (layer + module) % 3: 1.0 = fp8_max/amax exactly, 1.5 = past 448 (torch 2.13 and our cast saturate to ±448), 0.3 = low
MARGINS = [1.0, 1.5, 0.3]


class cuda_tags:
    """Storages saved inside the block are tagged as living on cuda:0 (what TE 1.x checkpoints hold)."""

    def __enter__(self):
        self.saved = torch.serialization.location_tag
        torch.serialization.location_tag = lambda storage: "cuda:0"

    def __exit__(self, *exc):
        torch.serialization.location_tag = self.saved


def fp8_state(weight: torch.Tensor, layer: int, module: int, te: int):
    """FP8 meta of one TE linear: forward slots [input, weight, output], backward [grad_output, grad_input]."""
    amax_w = weight.float().abs().max()
    g = torch.Generator().manual_seed(1000 * layer + module)
    amax_in = 0.5 + 4 * torch.rand(HISTORY, generator=g)
    amax_out = 0.5 + 4 * torch.rand(HISTORY, generator=g)
    hist_fwd = torch.stack([amax_in, amax_w.expand(HISTORY) * torch.linspace(0.8, 1.0, HISTORY), amax_out], 1)
    hist_bwd = 1e-3 + torch.rand(HISTORY, 2, generator=g)
    margin = MARGINS[(layer + module) % 3]
    scale_fwd = (torch.tensor([448.0, 448.0 * margin, 448.0]) / hist_fwd.max(0).values).float()
    scale_bwd = (57344.0 / hist_bwd.max(0).values).float()
    extra = {"fp8_checkpoint": True, "num_gemms": 1, "fp8_max_fwd": 448.0, "fp8_max_bwd": 57344.0, "autocast_id_fwd": 7, "autocast_id_bwd": 7, "first_module": module == 0}
    state = {}
    if te == 2:
        state["recipe"] = DelayedScaling(amax_history_len=HISTORY)
    state["scale_fwd"] = scale_fwd
    if te == 1:
        state["scale_inv_fwd"] = torch.reciprocal(scale_fwd)
    state["amax_history_fwd"] = hist_fwd.float()
    state["scale_bwd"] = scale_bwd
    if te == 1:
        state["scale_inv_bwd"] = torch.reciprocal(scale_bwd)
    state["amax_history_bwd"] = hist_bwd.float()
    state["extra_fp8_variables"] = extra
    return state


def serialise(state, te: int):
    if te == 1:
        b = io.BytesIO()
        with cuda_tags():
            torch.save(state, b)
        return b
    if state is None:
        return torch.empty(0, dtype=torch.uint8)
    return torch.frombuffer(bytearray(pickle.dumps(state)), dtype=torch.uint8)


def te_names(model: dict, num_layers: int, te: int) -> dict:
    """Local-spec state dict → TE-spec names and FP8 extra state (norms fused into linear_qkv / linear_fc1)."""
    out = {}
    for k, v in model.items():
        k2 = k.replace(".input_layernorm.weight", ".self_attention.linear_qkv.layer_norm_weight")
        k2 = k2.replace(".input_layernorm.bias", ".self_attention.linear_qkv.layer_norm_bias")
        k2 = k2.replace(".pre_mlp_layernorm.weight", ".mlp.linear_fc1.layer_norm_weight")
        k2 = k2.replace(".pre_mlp_layernorm.bias", ".mlp.linear_fc1.layer_norm_bias")
        out[k2] = v
    for layer in range(num_layers):
        for m, name in enumerate(LINEARS):
            w = out[f"decoder.layers.{layer}.{name}.weight"]
            out[f"decoder.layers.{layer}.{name}._extra_state"] = serialise(fp8_state(w, layer, m, te), te)
        # TE's DotProductAttention has extra state too (no FP8 attention here); Megatron's export skips it
        out[f"decoder.layers.{layer}.self_attention.core_attention._extra_state"] = serialise(None, te)
    return out


def te_args(args, te: int):
    a = copy.deepcopy(args)
    a.transformer_impl = "transformer_engine"
    a.fp8 = "hybrid"
    a.fp8_recipe = "delayed"
    a.fp8_margin = 0
    a.fp8_amax_history_len = HISTORY
    a.fp8_amax_compute_algo = "max"
    a.te_version_for_test_data = f"{te}.x"
    return a


def make_legacy(model_name: str, te: int) -> str:
    src = os.path.join(classic, "megatron", model_name, "torch", "tp1pp1")
    dst = os.path.join(out_root, "megatron", model_name, f"te{te}", "torch", "tp1pp1")
    shutil.rmtree(dst, ignore_errors=True)
    os.makedirs(os.path.join(dst, "iter_0000010", "mp_rank_00"))
    shutil.copy(os.path.join(src, "latest_checkpointed_iteration.txt"), dst)
    ck = torch.load(os.path.join(src, "iter_0000010", "mp_rank_00", "model_optim_rng.pt"), map_location="cpu", weights_only=False)
    ck["args"] = te_args(ck["args"], te)
    ck["model"] = te_names(ck["model"], ck["args"].num_layers, te)
    with cuda_tags():  # the classic checkpoint's weights were on cuda:0 too
        torch.save(ck, os.path.join(dst, "iter_0000010", "mp_rank_00", "model_optim_rng.pt"))
    return dst


def make_torch_dist(model_name: str, te: int, legacy_dir: str) -> None:
    """The classic torch_dist checkpoint with TE extra-state byte items (torch.save(obj), as Megatron's torch_dist
    strategy writes ShardedObjects: a one-element list) and TE args appended to its .distcp file, .metadata re-pointed at them."""
    from torch.distributed.checkpoint.filesystem import _StorageInfo
    from torch.distributed.checkpoint.metadata import MetadataIndex

    src = os.path.join(classic, "megatron", model_name, "torch_dist", "tp1pp1")
    dst = os.path.join(out_root, "megatron", model_name, f"te{te}", "torch_dist", "tp1pp1")
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst)
    os.makedirs(os.path.join(dst, "iter_0000010", "tokenizer"), exist_ok=True)
    it = os.path.join(dst, "iter_0000010")
    with open(os.path.join(it, ".metadata"), "rb") as f:
        meta = pickle.load(f)
    legacy = torch.load(os.path.join(legacy_dir, "iter_0000010", "mp_rank_00", "model_optim_rng.pt"), map_location="cpu", weights_only=False)
    num_layers = legacy["args"].num_layers
    items = {}
    for layer in range(num_layers):
        for name in LINEARS + ["self_attention.core_attention"]:
            key = f"decoder.layers.{name}._extra_state/shard_{layer}_{num_layers}"
            items[key] = [legacy["model"][f"decoder.layers.{layer}.{name}._extra_state"]]  # torch.save([obj]) as Megatron
    # common state: the same dict with TE args
    old = next(k for k in meta.storage_data if k.fqn == "common_state/shard_0_1")
    info = meta.storage_data[old]
    with open(os.path.join(it, info.relative_path), "rb") as f:
        f.seek(info.offset)
        common = torch.load(io.BytesIO(f.read(info.length)), map_location="cpu", weights_only=False)
    common_obj = common[0] if isinstance(common, list) else common
    common_obj["args"] = te_args(common_obj["args"], te)
    items["common_state/shard_0_1"] = common
    distcp = os.path.join(it, "__0_0.distcp")
    for key, obj in items.items():
        b = io.BytesIO()
        with cuda_tags():
            torch.save(obj, b)
        data = b.getvalue()
        with open(distcp, "ab") as f:
            offset = f.seek(0, 2)
            f.write(data)
        idx = next((k for k in meta.storage_data if k.fqn == key), None)
        if idx is None and ".core_attention." in key:
            continue  # the local-spec checkpoint has no attention extra state to re-point
        if idx is None:
            raise SystemExit(f"{key} is not an item of the classic checkpoint")
        meta.storage_data[idx] = _StorageInfo(relative_path="__0_0.distcp", offset=offset, length=len(data))
    with open(os.path.join(it, ".metadata"), "wb") as f:
        pickle.dump(meta, f)
    del MetadataIndex


for name in MODELS:
    for te in (1, 2):
        d = make_legacy(name, te)
        print("wrote", d)
        if name == "llama":
            make_torch_dist(name, te, d)
            print("wrote torch_dist for", name, te)
