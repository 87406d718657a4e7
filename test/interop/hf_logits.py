"""Loads exported Hugging Face checkpoints with transformers and compares their logits with Megatron's.

Usage: python hf_logits.py CASES_JSON   where CASES_JSON is a list of
  {"dir": export dir, "logits": fixture logits .safetensors, "dtype": "float32"|"bfloat16", "compute"?: dtype}
Prints one JSON line per case: max|Δ| / max|ref| over the real-vocabulary columns, the share of positions whose
top token agrees, plus loading info. The model runs in the dtype it was exported in (config torch_dtype), as a
user of the checkpoint would run it, unless "compute" names another (float32 shows what the file holds exactly).
"""
import json
import sys

import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

torch.manual_seed(0)
for case in json.load(open(sys.argv[1])):
    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[case.get("compute", case["dtype"])]
    model, info = AutoModelForCausalLM.from_pretrained(case["dir"], dtype=dtype, output_loading_info=True)
    model.eval()
    ref = load_file(case["logits"])
    with torch.no_grad():
        out = model(input_ids=ref["input_ids"], position_ids=ref["position_ids"]).logits.float()
    vocab = out.shape[-1]
    want = ref["logits"][..., :vocab]
    err = float((out - want).abs().max() / want.abs().max())
    print(json.dumps({
        "dir": case["dir"] + ("@" + case["compute"] if "compute" in case else ""),
        "dtype": case["dtype"],
        "class": type(model).__name__,
        "model_dtype": str(next(model.parameters()).dtype).replace("torch.", ""),
        "vocab": vocab,
        "padded_vocab": ref["logits"].shape[-1],
        "shape": list(out.shape),
        "rel_err": err,
        "argmax_agree": float((out.argmax(-1) == want.argmax(-1)).float().mean()),
        "missing": sorted(info.get("missing_keys", [])),
        "unexpected": sorted(info.get("unexpected_keys", [])),
        "mismatched": [str(m) for m in info.get("mismatched_keys", [])],
        "torch": torch.__version__,
        "transformers": __import__("transformers").__version__,
    }), flush=True)
