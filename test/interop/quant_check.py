"""Independent PyTorch reference for mcore-export's calibration-free quantized exports (issue 14).

Usage: python quant_check.py CASES_JSON, CASES_JSON a list of
  {"full": float32 export dir, "quant": quantized export dir, "scheme": ..., "group_size": int|null, "dtype": model dtype}
For every quantized weight, recomputes its codes and scales from the float32 export's weight with torch ops
(written here from the formulas, not from the product's code) and compares bytes. Then builds the dequantized
model (q · s) in float32 and compares its logits with the full-precision model's on fixed token ids.
Also tries to load the quantized directory with transformers as-is and reports what happened.
Prints one JSON line per case.
"""
import glob
import json
import math
import shutil
import sys
import tempfile

import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM

QMAX = {"int8": 127, "int4": 7, "fp8": 448}


def load_dir(d):
    out = {}
    for f in sorted(glob.glob(f"{d}/*.safetensors")):
        out.update(load_file(f))
    return out


def ref_quantize(w, kind, block, scale_dtype):
    """w: float32 [rows, cols] → (codes as stored bytes tensor, scales tensor in scale_dtype, dequantized float32)."""
    rows, cols = w.shape
    br, bc = block
    nbr, nbc = math.ceil(rows / br), math.ceil(cols / bc)
    padded = torch.zeros(nbr * br, nbc * bc, dtype=torch.float32)
    padded[:rows, :cols] = w
    amax = padded.abs().reshape(nbr, br, nbc, bc).amax(dim=(1, 3))
    s = (amax / QMAX[kind]).to(scale_dtype)
    s = torch.where(s == 0, torch.ones_like(s), s)
    full = s.float().repeat_interleave(br, 0).repeat_interleave(bc, 1)[:rows, :cols]
    v = w / full
    if kind == "fp8":
        q = v.clamp(-448, 448).to(torch.float8_e4m3fn)
        return q, s, q.float() * full
    q = torch.round(v.clamp(-QMAX[kind] - 1, QMAX[kind]))  # torch.round: half to even
    codes = (q + QMAX[kind] + 1).to(torch.uint8)
    if kind == "int4":
        codes = codes[:, 0::2] | (codes[:, 1::2] << 4)
    return codes.contiguous().view(torch.int32), s, q * full


def logits(model, ids):
    with torch.no_grad():
        return model(input_ids=ids).logits.float()


def check_trtllm(case):
    """fp8-per-channel rank files: bytes of every quantized linear against the reference; everything else equal."""
    checked, mismatched, worst = 0, [], 0.0
    for f in sorted(glob.glob(f"{case['full']}/rank*.safetensors")):
        full = load_file(f)
        quant = load_file(f.replace(case["full"], case["quant"]))
        for name, w in full.items():
            sname = name[: -len(".weight")] + ".per_channel_scale" if name.endswith(".weight") else None
            if sname not in quant:
                if not torch.equal(quant[name], w.to(quant[name].dtype)):
                    mismatched.append(name)
                continue
            q, s, d = ref_quantize(w.float(), "fp8", (1, w.shape[1]), torch.float32)
            if not (quant[name].view(torch.uint8).equal(q.view(torch.uint8)) and quant[sname].equal(s.reshape(-1))):
                mismatched.append(name)
            worst = max(worst, float((d - w).abs().max() / w.abs().max()))
            checked += 1
    return {"quant": case["quant"], "scheme": case["scheme"], "checked": checked, "mismatched": mismatched, "weight_rel_err": worst}


def check(case):
    if case.get("format") == "trtllm":
        return check_trtllm(case)
    full = load_dir(case["full"])
    quant = load_dir(case["quant"])
    scheme = case["scheme"]
    model_dtype = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}[case["dtype"]]
    kind = {"int8-weight-only": "int8", "int4-weight-only": "int4", "fp8-block": "fp8"}[scheme]
    fp8 = kind == "fp8"
    deq = {}
    checked, mismatched = 0, []
    for name, w in full.items():
        module = name[: -len(".weight")] if name.endswith(".weight") else name
        qname = name if fp8 else f"{module}.weight_packed"
        sname = f"{module}.weight_scale_inv" if fp8 else f"{module}.weight_scale"
        if sname not in quant:
            # not quantized: stored in the model dtype, same values as the full export rounded to it
            if not torch.equal(quant[name], w.to(model_dtype)):
                mismatched.append(name)
            continue
        cols = w.shape[1]
        block = (128, 128) if fp8 else (1, case["group_size"] or cols)
        q, s, d = ref_quantize(w.float(), kind, block, torch.float32 if fp8 else model_dtype)
        ok = quant[qname].view(torch.uint8).equal(q.view(torch.uint8)) and quant[sname].view(torch.uint8).equal(s.contiguous().view(torch.uint8))
        if not fp8:
            ok = ok and quant[f"{module}.weight_shape"].tolist() == list(w.shape)
        if not ok:
            mismatched.append(name)
        checked += 1
        deq[name] = d
    # the dequantized model vs the full-precision one, both float32
    ids = torch.arange(1, 33).remainder(200).reshape(2, 16)
    model = AutoModelForCausalLM.from_pretrained(case["full"], dtype=torch.float32).eval()
    ref = logits(model, ids)
    # the dequantized weights written as a float32 checkpoint, loaded the way transformers loads any (so its own
    # key conversions, e.g. per-expert weights fused into one parameter, apply)
    with tempfile.TemporaryDirectory() as d:
        shutil.copy(f"{case['full']}/config.json", d)
        save_file({k: deq.get(k, v).contiguous() for k, v in full.items()}, f"{d}/model.safetensors", metadata={"format": "pt"})
        dq = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32).eval()
        got = logits(dq, ids)
    rel = float((got - ref).abs().max() / ref.abs().max())
    # loading the quantized directory itself
    try:
        qm = AutoModelForCausalLM.from_pretrained(case["quant"])
        load = {"ok": True, "class": type(qm).__name__}
        try:
            rel_loaded = float((logits(qm.float(), ids) - ref).abs().max() / ref.abs().max())
            load["rel_err"] = rel_loaded
        except Exception as e:  # noqa: BLE001 - reported, not hidden
            load["run_error"] = f"{type(e).__name__}: {str(e)[:200]}"
    except Exception as e:  # noqa: BLE001
        load = {"ok": False, "error": f"{type(e).__name__}: {str(e)[:200]}"}
    return {"quant": case["quant"], "scheme": scheme, "checked": checked, "mismatched": mismatched, "rel_err": rel, "load": load}


for c in json.load(open(sys.argv[1])):
    print(json.dumps(check(c)), flush=True)
