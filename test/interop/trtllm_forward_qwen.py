"""Reads a TensorRT-LLM QWenForCausalLM checkpoint the way TensorRT-LLM 1.x defines the architecture and runs it.

Usage: python trtllm_forward_qwen.py CASES_JSON   where CASES_JSON is a list of
  {"dir": TRT-LLM checkpoint dir, "logits": fixture logits .safetensors[, "ref_dir": another TRT-LLM checkpoint]}
Prints one JSON line per case: rel_err = max|Δ| / max|ref| against Megatron's logits over the config's vocab_size
columns (or, with ref_dir, against this same reading of ref_dir on the fixture's input), the parameter-set problems
per rank, and negative controls (the same forward with one rule broken).

What is emulated (NVIDIA/TensorRT-LLM, TRT backend, tensorrt_llm/):
- models/qwen/model.py QWenDecoderLayer / QWenModel / QWenForCausalLM: which parameters each rank owns (the
  per-rank set below), RmsNorm blocks, Attention(bias=attn_bias, dense_bias=False, qk_layernorm for qwen3*),
  GatedMLP or MOE; embedding on the first pipeline stage, ln_f and lm_head (ColumnLinear of pad_vocab_size(V, tp)
  rows, gathered) on the last.
- models/modeling_utils.py PretrainedModel.load: a missing parameter or a wrong shape fails the load; extras are
  ignored with a warning (reported here as problems too: they would be silently lost).
- layers/attention.py Attention: qkv per rank = [q_r; k_r; v_r] with ceil(nkv/tp) KV heads; q/k RmsNorm over the
  head dim with Attention's default eps 1e-5 (QWen passes none) before the rotary embedding; RoPE gpt-neox over the
  whole head (rotary_base); softmax scale 1/sqrt(head_size); each rank's query heads attend its own KV heads;
  dense is a RowLinear (partial sums over ranks).
- layers/moe.py SharedMoE(use_shared_gate=True) for qwen2_moe: + sigmoid(shared_expert_gate(x)) * shared_expert(x),
  the shared expert an MLP with swiglu over fc rows [linear; activated] per rank.
- layers/mlp.py GatedMLP: proj(act(fc(x)) * gate(x)). layers/moe.py MOE: router RowLinear in float32; normalization
  mode 1 (RENORMALIZE) = softmax over the top-k logits, 0 (NONE) = top-k of the softmax over all experts; expert
  fc rows [linear; activated] (swiglu), each rank holds F/tp of every expert (moe_tp_size = tp), partial sums.
"""
import json
import math
import struct
import sys

import torch
from safetensors.torch import load_file

TRT_ATTENTION_EPS = 1e-5  # tensorrt_llm/layers/attention.py Attention(eps=1e-05); QWen does not pass one


def header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        h = json.loads(f.read(n))
    h.pop("__metadata__", None)
    return {k: (v["dtype"], v["shape"]) for k, v in h.items()}


def pp_layers(n, pp, rank):
    base, extra = divmod(n, pp)
    start = rank * base + min(rank, extra)
    return list(range(start, start + base + (1 if rank < extra else 0)))


SAFE_DTYPE = {"float32": "F32", "float16": "F16", "bfloat16": "BF16"}


def expected_params(cfg, tp_rank, pp_rank):
    """{name: (safetensors dtype, shape)} of one rank, from QWenForCausalLM's modules."""
    tp, pp = cfg["mapping"]["tp_size"], cfg["mapping"]["pp_size"]
    H, hd = cfg["hidden_size"], cfg["head_size"]
    nq, nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    V, L = cfg["vocab_size"], cfg["num_hidden_layers"]
    dt = SAFE_DTYPE[cfg["dtype"]]
    kvr = (nkv + tp - 1) // tp
    qwen3 = cfg["qwen_type"] in ("qwen3", "qwen3_moe")
    moe = cfg["moe"]["num_experts"] > 1
    F = cfg["moe_intermediate_size"] if cfg["qwen_type"] in ("qwen2_moe", "qwen3_moe") else cfg["intermediate_size"]
    out = {}
    if pp_rank == 0:
        if cfg["use_parallel_embedding"] and tp > 1:
            shape = [math.ceil(V / tp), H] if cfg["embedding_sharding_dim"] == 0 else [V, H // tp]
        else:
            shape = [V, H]
        out["transformer.vocab_embedding.weight"] = (dt, shape)
    for i, _ in enumerate(pp_layers(L, pp, pp_rank)):
        p = f"transformer.layers.{i}."
        out[p + "input_layernorm.weight"] = (dt, [H])
        out[p + "post_layernorm.weight"] = (dt, [H])
        out[p + "attention.qkv.weight"] = (dt, [(nq // tp + 2 * kvr) * hd, H])
        if cfg["attn_bias"]:
            out[p + "attention.qkv.bias"] = (dt, [(nq // tp + 2 * kvr) * hd])
        out[p + "attention.dense.weight"] = (dt, [H, nq * hd // tp])
        if qwen3:
            out[p + "attention.q_layernorm.weight"] = (dt, [hd])
            out[p + "attention.k_layernorm.weight"] = (dt, [hd])
        if moe:
            E = cfg["moe"]["num_experts"]
            out[p + "mlp.router.weight"] = ("F32", [E, H])
            out[p + "mlp.fc.weight"] = (dt, [E, 2 * F // tp, H])
            out[p + "mlp.proj.weight"] = (dt, [E, H, F // tp])
            if cfg["qwen_type"] == "qwen2_moe":
                S = cfg["moe_shared_expert_intermediate_size"]
                out[p + "mlp.shared_expert.fc.weight"] = (dt, [2 * S // tp, H])
                out[p + "mlp.shared_expert.proj.weight"] = (dt, [H, S // tp])
                out[p + "mlp.shared_expert_gate.weight"] = (dt, [1, H])
        else:
            out[p + "mlp.fc.weight"] = (dt, [F // tp, H])
            out[p + "mlp.gate.weight"] = (dt, [F // tp, H])
            out[p + "mlp.proj.weight"] = (dt, [H, F // tp])
    if pp_rank == pp - 1:
        out["transformer.ln_f.weight"] = (dt, [H])
        out["lm_head.weight"] = (dt, [math.ceil(V / tp), H])
    return out


def rms(x, w, eps):
    x32 = x.float()
    return x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps) * w.float()


def rope(x, pos, base):
    d = x.shape[-1]
    inv = 1.0 / (base ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
    ang = pos[..., None].double() * inv
    cos = torch.cat([ang.cos(), ang.cos()], -1).float().unsqueeze(-2)
    sin = torch.cat([ang.sin(), ang.sin()], -1).float().unsqueeze(-2)
    x1, x2 = x[..., : d // 2], x[..., d // 2:]
    return x * cos + torch.cat([-x2, x1], -1) * sin


def forward(cfg, ranks, input_ids, position_ids, control=None):
    """ranks[pp][tp] = that rank's tensors (float32)."""
    tp, pp = cfg["mapping"]["tp_size"], cfg["mapping"]["pp_size"]
    hd, nq, nkv = cfg["head_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    V, eps = cfg["vocab_size"], cfg["norm_epsilon"]
    kvr = (nkv + tp - 1) // tp
    qwen3 = cfg["qwen_type"] in ("qwen3", "qwen3_moe")
    qk_eps = eps if control == "qk_norm_eps_of_megatron" else TRT_ATTENTION_EPS
    first = ranks[0]
    if cfg["use_parallel_embedding"] and tp > 1:
        dim = cfg["embedding_sharding_dim"]
        emb = torch.cat([r["transformer.vocab_embedding.weight"] for r in first], dim)[:V]
    else:
        emb = first[0]["transformer.vocab_embedding.weight"]
    B, S = input_ids.shape
    h = emb[input_ids]
    mask = torch.full((S, S), float("-inf")).triu(1)
    for stage in ranks:
        n_local = sum(1 for k in stage[0] if k.endswith(".input_layernorm.weight"))
        for i in range(n_local):
            p = f"transformer.layers.{i}."
            x = rms(h, stage[0][p + "input_layernorm.weight"], eps)
            attn = 0
            for r in stage:
                qkv = x @ r[p + "attention.qkv.weight"].T
                if cfg["attn_bias"]:
                    qkv = qkv + r[p + "attention.qkv.bias"]
                nqr = nq // tp
                q, k, v = qkv.split([nqr * hd, kvr * hd, kvr * hd], -1)
                q, k, v = q.view(B, S, nqr, hd), k.view(B, S, kvr, hd), v.view(B, S, kvr, hd)
                if qwen3 and control != "qk_norm_dropped":
                    q = rms(q, r[p + "attention.q_layernorm.weight"], qk_eps)
                    k = rms(k, r[p + "attention.k_layernorm.weight"], qk_eps)
                q = rope(q, position_ids, cfg["rotary_base"]).transpose(1, 2)
                k = rope(k, position_ids, cfg["rotary_base"]).transpose(1, 2)
                v = v.transpose(1, 2)
                rep = nqr // kvr
                k, v = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)
                s = q @ k.transpose(-1, -2) / math.sqrt(hd) + mask
                ctx = (s.softmax(-1) @ v).transpose(1, 2).reshape(B, S, nqr * hd)
                attn = attn + ctx @ r[p + "attention.dense.weight"].T
            h = h + attn
            x = rms(h, stage[0][p + "post_layernorm.weight"], eps)
            h = h + mlp(cfg, stage, p, x, control)
    h = rms(h, ranks[-1][0]["transformer.ln_f.weight"], eps)
    lm = torch.cat([r["lm_head.weight"] for r in ranks[-1]], 0)
    return (h @ lm.T)[..., :V]


def mlp(cfg, stage, p, x, control):
    swap = control == "gate_and_fc_swapped"
    silu = torch.nn.functional.silu
    if cfg["moe"]["num_experts"] <= 1:
        out = 0
        for r in stage:
            fc, gate = x @ r[p + "mlp.fc.weight"].T, x @ r[p + "mlp.gate.weight"].T
            act = silu(gate) * fc if swap else silu(fc) * gate
            out = out + act @ r[p + "mlp.proj.weight"].T
        return out
    k = cfg["moe"]["top_k"]
    logits = x.float() @ stage[0][p + "mlp.router.weight"].T
    if cfg["moe"]["normalization_mode"] == 1:  # RENORMALIZE
        top, idx = logits.topk(k, -1)
        w = top.softmax(-1)
    else:  # NONE
        w, idx = logits.softmax(-1).topk(k, -1)
    out = torch.zeros_like(x)
    for r in stage:
        fc, proj = r[p + "mlp.fc.weight"], r[p + "mlp.proj.weight"]
        half = fc.shape[1] // 2
        for e in range(fc.shape[0]):
            lin, gate = x @ fc[e, :half].T, x @ fc[e, half:].T
            y = (silu(lin) * gate if swap else silu(gate) * lin) @ proj[e].T
            weight = (w * (idx == e)).sum(-1, keepdim=True)
            out = out + weight * y
    if cfg["qwen_type"] == "qwen2_moe" and control != "shared_expert_gate_dropped":
        shared = 0
        for r in stage:
            fc = x @ r[p + "mlp.shared_expert.fc.weight"].T
            lin, gate = fc.chunk(2, -1)
            shared = shared + (silu(lin) * gate if swap else silu(gate) * lin) @ r[p + "mlp.shared_expert.proj.weight"].T
        out = out + torch.sigmoid(x @ stage[0][p + "mlp.shared_expert_gate.weight"].T) * shared
    return out


def read(d, problems):
    """config and ranks[pp][tp] of a checkpoint, with the parameter-set problems appended."""
    cfg = json.load(open(f"{d}/config.json"))
    tp, pp = cfg["mapping"]["tp_size"], cfg["mapping"]["pp_size"]
    ranks = []
    for s in range(pp):
        stage = []
        for t in range(tp):
            path = f"{d}/rank{s * tp + t}.safetensors"
            want, have = expected_params(cfg, t, s), header(path)
            for name, spec in want.items():
                if name not in have:
                    problems.append(f"rank{s * tp + t}: missing {name}")
                elif have[name] != (spec[0], spec[1]):
                    problems.append(f"rank{s * tp + t}: {name} is {have[name]}, QWen declares {spec}")
            for name in have:
                if name not in want:
                    problems.append(f"rank{s * tp + t}: provided but not required {name}")
            stage.append({k: v.float() for k, v in load_file(path).items()})
        ranks.append(stage)
    return cfg, ranks


def main():
    torch.manual_seed(0)
    for case in json.load(open(sys.argv[1])):
        problems = []
        cfg, ranks = read(case["dir"], problems)
        ref = load_file(case["logits"])
        ids, pos = ref["input_ids"], ref["position_ids"]
        result = {"dir": case["dir"], "architecture": cfg["architecture"], "qwen_type": cfg["qwen_type"], "problems": problems}
        if "ref_dir" in case:
            ref_cfg, ref_ranks = read(case["ref_dir"], problems)
        if not problems:
            with torch.no_grad():
                want = forward(ref_cfg, ref_ranks, ids, pos) if "ref_dir" in case else ref["logits"][..., : cfg["vocab_size"]]
                err = lambda c: float((forward(cfg, ranks, ids, pos, c) - want).abs().max() / want.abs().max())
                result["rel_err"] = err(None)
                controls = ["gate_and_fc_swapped"]
                if cfg["qwen_type"] in ("qwen3", "qwen3_moe"):
                    controls += ["qk_norm_dropped", "qk_norm_eps_of_megatron"]
                if cfg["qwen_type"] == "qwen2_moe":
                    controls += ["shared_expert_gate_dropped"]
                result["controls"] = {c: err(c) for c in controls}
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
