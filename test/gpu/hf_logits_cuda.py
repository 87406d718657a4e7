"""HF interop on the GPU: transformers loads the exports written with --device cuda (OUT/hf-cases.json from
run-gpu-checks.mjs), runs them on CUDA in the exported dtype, and compares the logits with Megatron's own
forward pass (fixtures/logits) over the real-vocabulary columns: max|Δ| / max|ref|.
Usage: python3 hf_logits_cuda.py CASES_JSON OUT_JSON
"""
import json
import sys

import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

cases = json.load(open(sys.argv[1]))
rows = []
for case in cases:
    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[case["dtype"]]
    model = AutoModelForCausalLM.from_pretrained(case["dir"], dtype=dtype).to("cuda").eval()
    ref = load_file(case["logits"])
    with torch.no_grad():
        out = model(input_ids=ref["input_ids"].cuda(), position_ids=ref["position_ids"].cuda()).logits.float().cpu()
    vocab = out.shape[-1]
    want = ref["logits"][..., :vocab]
    rows.append({
        "model": case["model"], "class": type(model).__name__, "dtype": case["dtype"], "device": torch.cuda.get_device_name(0),
        "rel_err": float((out - want).abs().max() / want.abs().max()), "shape": list(out.shape),
        "torch": torch.__version__, "transformers": __import__("transformers").__version__,
    })
    print(json.dumps(rows[-1]), flush=True)
json.dump(rows, open(sys.argv[2], "w"), indent=1)
