"""Loads a DeepSeek-V3 export with multi-token-prediction layers in transformers and reports, as one JSON line:
the main model's missing / unexpected keys (DeepseekV3PreTrainedModel._keys_to_ignore_on_load_unexpected only
names the real model's `model.layers.61.*`, so a small model's MTP layers show up as unexpected), the
checkpoint's own MTP key names, and whether transformers' MtpModel (modeling_layers.py; it raises on any missing
MTP weight) loads them once the ignore pattern names this model's MTP layer index, with its loaded eh_proj /
enorm / hnorm / post_norm (= shared_head.norm) compared to the file's bytes.

usage: python hf_mtp_check.py EXPORT_DIR
"""

import glob
import json
import sys

import torch
from safetensors.torch import load_file
from transformers import AutoConfig, DeepseekV3ForCausalLM
from transformers.modeling_layers import MtpModel


def main() -> None:
    d = sys.argv[1]
    cfg = AutoConfig.from_pretrained(d)
    n_layers = cfg.num_hidden_layers
    n_mtp = cfg.num_nextn_predict_layers
    files = {}
    for f in glob.glob(f"{d}/*.safetensors"):
        files.update(load_file(f))
    mtp_keys = sorted(k for k in files if k.startswith("model.layers.") and int(k.split(".")[2]) >= n_layers)

    model, info = DeepseekV3ForCausalLM.from_pretrained(d, dtype=torch.float32, output_loading_info=True)
    out = {
        "num_hidden_layers": n_layers,
        "num_nextn_predict_layers": n_mtp,
        "num_mtp_layers": cfg.num_mtp_layers,
        "missing": sorted(info.get("missing_keys", [])),
        "unexpected": sorted(info.get("unexpected_keys", [])),
        "mismatched": sorted(str(x) for x in info.get("mismatched_keys", [])),
        "mtp_keys": mtp_keys,
    }

    # MtpModel finds MTP weights through the main class's ignore patterns (those with a layer index >= L)
    pattern = "|".join(rf"model\.layers\.{n_layers + k}\..*" for k in range(n_mtp))
    DeepseekV3ForCausalLM._keys_to_ignore_on_load_unexpected = [pattern]
    model2 = DeepseekV3ForCausalLM.from_pretrained(d, dtype=torch.float32)
    try:
        mtp = MtpModel.from_pretrained(model2)
        same = {}
        for k in range(n_mtp):
            layer = mtp.layers[k]
            p = f"model.layers.{n_layers + k}."
            for ours, theirs in (("eh_proj", "eh_proj"), ("enorm", "enorm"), ("hnorm", "hnorm"), ("shared_head.norm", "post_norm")):
                same[f"{p}{ours}"] = bool(torch.equal(getattr(layer, theirs).weight.detach(), files[f"{p}{ours}.weight"].float()))
            q = layer.mtp_block.self_attn.kv_b_proj.weight.detach()
            same[f"{p}self_attn.kv_b_proj"] = bool(torch.equal(q, files[f"{p}self_attn.kv_b_proj.weight"].float()))
        out["mtp_model"] = {"loaded": True, "layers": len(mtp.layers), "same": same}
    except Exception as e:  # the test reports why
        out["mtp_model"] = {"loaded": False, "error": f"{type(e).__name__}: {e}"[:2000]}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
