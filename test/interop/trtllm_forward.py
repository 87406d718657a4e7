"""Logits of a TensorRT-LLM checkpoint computed as TensorRT-LLM 1.x defines the architecture, compared with Megatron's.

Usage: python trtllm_forward.py CASES_JSON   where CASES_JSON is a list of
  {"dir": TRT-LLM checkpoint dir, "logits": fixture logits .safetensors, "gelu": "tanh"|"erf"}, or
  {"dir": ..., "hf": Hugging Face dir of the same model}: the reference is then transformers' forward of that
  directory on fixed random token ids (for checkpoints without Megatron logits, e.g. from tools/generate)
Prints one JSON line per case: max|Δ| / max|ref| over the config's vocab_size columns.

Written from TensorRT-LLM's source (NVIDIA/TensorRT-LLM, 1.x era), never from our exporter:
- every rank file is read as that rank's model reads it (tensorrt_llm/models/modeling_utils.py
  PretrainedModel.from_checkpoint: rank{N}.safetensors, N = pp_rank * tp + tp_rank, tensorrt_llm/mapping.py);
  a stage holds layers pp_layers(L) = torch.tensor_split(range(L), pp)[pp_rank], numbered from 0;
- tensor parallelism is computed rank by rank, never by re-joining weights: each rank's fused qkv holds
  [its q heads; its kv heads; its v heads] and its q heads attend its own kv heads (tensorrt_llm/layers/attention.py
  Attention, num_attention_kv_heads = ceil(nkv / tp)); RowLinear outputs (attention.dense, mlp.proj) are summed
  over ranks (the all-reduce) and their bias added once (tensorrt_llm/layers/linear.py); lm_head is a
  ColumnLinear with gather_output, so the rank logits are concatenated;
- embeddings (tensorrt_llm/layers/embedding.py Embedding, functional.embedding): without parallel embedding every
  rank has the table; sharding dim 0: rank r holds rows [r·ceil(V/tp), ...) and the lookups are summed; dim 1: the
  column slices are concatenated;
- GPT (tensorrt_llm/models/gpt/model.py): learned absolute position embedding when position_embedding_type is
  learned_absolute, LayerNorm (weight, bias), Attention with the config's `bias` for qkv and dense, MLPFactory:
  GatedMLP (act(fc) * gate) for swiglu/geglu names else MLP (act(fc)), proj; gelu is the tanh approximation
  (tensorrt_llm/functional.py gelu); rotary on int(head_size * rotary_pct) dims, GPT-NeoX style, base rotary_base;
- LLaMA (tensorrt_llm/models/llama/model.py): RmsNorm, rope_gpt_neox on all head dims, GatedMLP silu(fc(x)) * gate(x)
  (tensorrt_llm/layers/mlp.py GatedMLP) or MOE (tensorrt_llm/layers/moe.py: float32 router, top-k renormalised
  softmax, expert fc rows [linear half; activated half] (swiglu activates the second half), proj).
"""
import json
import math
import sys

import torch
import torch.nn.functional as F
from safetensors.torch import load_file

torch.set_grad_enabled(False)


def pp_layers(layers, pp, pp_rank):
    return [int(x) for x in torch.tensor_split(torch.arange(layers), pp)[pp_rank]]


def act_fn(name, gelu):
    if name in ("gelu", "gelu_new", "gelu_fast", "gelu_pytorch_tanh", "openai-gelu", "geglu"):
        return (lambda x: F.gelu(x, approximate="tanh")) if gelu == "tanh" else F.gelu
    if name in ("silu", "swiglu", "fast-swiglu"):
        return F.silu
    if name == "relu":
        return F.relu
    if name in ("squared-relu", "relu2"):
        return lambda x: F.relu(x) ** 2
    raise ValueError(f"activation {name} not in this reading")


def rope(x, positions, rotary_dim, base):
    """GPT-NeoX rotary on the first rotary_dim dims of every head: halves rotated (x: [s, heads, hd])."""
    if rotary_dim == 0:
        return x
    inv = 1.0 / (base ** (torch.arange(0, rotary_dim, 2, dtype=torch.float64) / rotary_dim))
    ang = positions.double()[:, None] * inv[None, :]
    cos = torch.cat([ang.cos(), ang.cos()], -1).float()[:, None, :]
    sin = torch.cat([ang.sin(), ang.sin()], -1).float()[:, None, :]
    r, rest = x[..., :rotary_dim], x[..., rotary_dim:]
    half = rotary_dim // 2
    rotated = torch.cat([-r[..., half:], r[..., :half]], -1)
    return torch.cat([r * cos + rotated * sin, rest], -1)


class Checkpoint:
    def __init__(self, path):
        self.cfg = json.load(open(f"{path}/config.json"))
        m = self.cfg["mapping"]
        self.tp, self.pp = m["tp_size"], m["pp_size"]
        self.ranks = [load_file(f"{path}/rank{r}.safetensors") for r in range(self.tp * self.pp)]

    def stage(self, pp_rank):
        """The TP rank files of one stage, each as float32 (the export under test is float32)."""
        return [{k: v.float() for k, v in self.ranks[pp_rank * self.tp + t].items()} for t in range(self.tp)]


def embed(ranks, name, ids, rows, cfg, tp):
    if not cfg.get("use_parallel_embedding", False) or tp == 1:
        return F.embedding(ids, ranks[0][name])
    if cfg.get("embedding_sharding_dim", 0) == 1:
        return torch.cat([F.embedding(ids, r[name]) for r in ranks], -1)
    per = math.ceil(rows / tp)
    out = 0
    for t, r in enumerate(ranks):
        local = ids - t * per
        mine = (local >= 0) & (local < per)
        out = out + F.embedding(local.clamp(0, per - 1), r[name]) * mine[..., None]
    return out


def forward(ck, ids, gelu):
    cfg, tp, pp = ck.cfg, ck.tp, ck.pp
    arch = cfg["architecture"]
    gpt = arch == "GPTForCausalLM"
    H, L, V = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["vocab_size"]
    nq = cfg["num_attention_heads"]
    nkv = cfg.get("num_key_value_heads") or nq
    hd = cfg.get("head_size") or H // nq
    eps = cfg.get("norm_epsilon", 1e-5)
    act_name = cfg["hidden_act"]
    act = act_fn(act_name, gelu)
    pos_type = cfg.get("position_embedding_type", "learned_absolute")
    rotary_dim = int(hd * cfg.get("rotary_pct", 1.0)) if gpt else hd
    base = cfg.get("rotary_base", 10000.0)
    experts = (cfg.get("moe") or {}).get("num_experts", cfg.get("moe_num_experts", 0))
    top_k = (cfg.get("moe") or {}).get("top_k", cfg.get("moe_top_k", 0))
    gated_gpt = act_name in ("swiglu", "geglu", "fast-swiglu")
    bias = cfg.get("bias", True) if gpt else None
    attn_bias = bias if gpt else cfg.get("attn_bias", False)
    mlp_bias = bias if gpt else cfg.get("mlp_bias", False)
    q_loc, kv_loc = nq // tp, math.ceil(nkv / tp)
    b, s = ids.shape
    positions = torch.arange(s)

    def norm(x, r, name):
        if gpt:
            return F.layer_norm(x, (H,), r[f"{name}.weight"], r[f"{name}.bias"], eps)
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * r[f"{name}.weight"]

    first = ck.stage(0)
    x = embed(first, "transformer.vocab_embedding.weight", ids, V, cfg, tp)
    if gpt and pos_type == "learned_absolute":
        x = x + embed(first, "transformer.position_embedding.weight", positions.expand(b, s), cfg["max_position_embeddings"], cfg, tp)

    mask = torch.full((s, s), float("-inf")).triu(1)
    for p in range(pp):
        ranks = ck.stage(p)
        for local, _ in enumerate(pp_layers(L, pp, p)):
            pre = f"transformer.layers.{local}."
            r0 = ranks[0]
            h = norm(x, r0, pre + "input_layernorm")
            attn = 0
            for r in ranks:
                qkv = h @ r[pre + "attention.qkv.weight"].T
                if attn_bias:
                    qkv = qkv + r[pre + "attention.qkv.bias"]
                q, k, v = qkv.split([q_loc * hd, kv_loc * hd, kv_loc * hd], -1)
                q = q.reshape(b, s, q_loc, hd)
                k = k.reshape(b, s, kv_loc, hd)
                v = v.reshape(b, s, kv_loc, hd)
                if pos_type.startswith("rope"):
                    q = torch.stack([rope(q[i], positions, rotary_dim, base) for i in range(b)])
                    k = torch.stack([rope(k[i], positions, rotary_dim, base) for i in range(b)])
                rep = q_loc // kv_loc
                k = k.repeat_interleave(rep, 2)
                v = v.repeat_interleave(rep, 2)
                scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(hd) + mask
                ctx = torch.einsum("bhqk,bkhd->bqhd", scores.softmax(-1), v).reshape(b, s, q_loc * hd)
                attn = attn + ctx @ r[pre + "attention.dense.weight"].T
            if attn_bias:
                attn = attn + r0[pre + "attention.dense.bias"]
            x = x + attn
            h = norm(x, r0, pre + "post_layernorm")
            if experts > 1:
                logits = h @ r0[pre + "mlp.router.weight"].T
                weights, chosen = logits.topk(top_k, -1)
                weights = weights.softmax(-1)
                mlp = torch.zeros_like(h)
                for e in range(experts):
                    picked = (chosen == e).to(h.dtype) * weights
                    gate_w = picked.sum(-1, keepdim=True)
                    out = 0
                    for r in ranks:
                        up, gate = (h @ r[pre + "mlp.fc.weight"][e].T).chunk(2, -1)
                        out = out + (up * act(gate)) @ r[pre + "mlp.proj.weight"][e].T
                    mlp = mlp + gate_w * out
            else:
                mlp = 0
                for r in ranks:
                    fc = h @ r[pre + "mlp.fc.weight"].T
                    if mlp_bias:
                        fc = fc + r[pre + "mlp.fc.bias"]
                    inter = act(fc)
                    if not gpt or gated_gpt:
                        gate = h @ r[pre + "mlp.gate.weight"].T
                        if mlp_bias:
                            gate = gate + r[pre + "mlp.gate.bias"]
                        inter = inter * gate
                    mlp = mlp + inter @ r[pre + "mlp.proj.weight"].T
                if mlp_bias:
                    mlp = mlp + r0[pre + "mlp.proj.bias"]
            x = x + mlp
    last = ck.stage(pp - 1)
    x = norm(x, last[0], "transformer.ln_f")
    return torch.cat([x @ lm_head(r, V, H, tp).T for r in last], -1)[..., :V]


def lm_head(r, V, H, tp):
    """A rank's lm_head: its own, or (build-time share_embedding) the rank's vocab_embedding of the same shape."""
    if "lm_head.weight" in r:
        return r["lm_head.weight"]
    emb = r.get("transformer.vocab_embedding.weight")
    if emb is None or tuple(emb.shape) != (math.ceil(V / tp), H):
        raise SystemExit("lm_head.weight is absent and cannot be tied: TensorRT-LLM would run an uninitialised lm_head")
    return emb


def hf_reference(hf_dir, vocab):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(hf_dir, dtype=torch.float32).eval()
    vocab = min(vocab, model.config.vocab_size)  # the HF export may hold the tokenizer vocabulary only
    ids = torch.randint(0, vocab, (2, 16), generator=torch.Generator().manual_seed(0))
    return {"input_ids": ids, "logits": model(input_ids=ids).logits.float()}


for case in json.load(open(sys.argv[1])):
    ck = Checkpoint(case["dir"])
    ref = hf_reference(case["hf"], ck.cfg["vocab_size"]) if "hf" in case else load_file(case["logits"])
    out = forward(ck, ref["input_ids"], case.get("gelu", "tanh"))
    vocab = min(out.shape[-1], ref["logits"].shape[-1])
    out, want = out[..., :vocab], ref["logits"][..., :vocab]
    print(json.dumps({
        "dir": case["dir"],
        "vocab": vocab,
        "rel_err": float((out - want).abs().max() / want.abs().max()),
        "argmax_equal": bool((out.argmax(-1) == want.argmax(-1)).all()),
        "torch": torch.__version__,
    }), flush=True)
