// Test-only: TensorRT-LLM 1.x's checkpoint loading, read from its source and re-stated here so that our exports
// (and Megatron's) can be judged without TensorRT-LLM. Per rank: the parameters the model class declares for the
// config (names, shapes, dtypes), PretrainedModel.load's rules, and the build-time embedding tie.
// Sources (NVIDIA/TensorRT-LLM, 1.x era; file — function):
// - tensorrt_llm/mapping.py — Mapping: tp_rank = rank % tp, pp_rank = rank // tp (cp = 1); pp_layers =
//   torch.tensor_split(range(L), pp)[pp_rank].
// - tensorrt_llm/models/modeling_utils.py — PretrainedModel.from_checkpoint (rank{N}.safetensors), .load (missing
//   parameter → RuntimeError "Required but not provided tensors", except lm_head.weight when the file has a
//   *vocab_embedding.weight; extra tensors → warning "Provided but not required tensors", dropped; shape checked
//   on assignment), __post_init__ → optimize_model(use_parallel_embedding) → parallelize_embedding (every
//   Embedding sharded with embedding_sharding_dim), share_embedding (ties lm_head to vocab_embedding only when both
//   exist on the rank with equal shape and dtype), DecoderLayerList (local layers = pp_layers).
// - tensorrt_llm/builder.py — build(): optimize_model(model, share_embedding_table=True, ...).
// - tensorrt_llm/layers/embedding.py — Embedding: dim 0 → [ceil(V/tp), H], dim 1 → [V, H/tp].
// - tensorrt_llm/layers/linear.py — ColumnLinear weight [out/tp, in], bias [out/tp]; RowLinear weight
//   [out, in/tp], bias [out].
// - tensorrt_llm/layers/attention.py — Attention: qkv ColumnLinear(H, tp·(nq/tp + 2·ceil(nkv/tp))·hd, bias),
//   dense RowLinear(nq·hd, H, bias=dense_bias, which defaults to bias).
// - tensorrt_llm/layers/mlp.py — MLP: fc, proj; GatedMLP: fc, gate, proj (all with `bias`).
// - tensorrt_llm/layers/normalization.py — LayerNorm: weight and bias; RmsNorm: weight.
// - tensorrt_llm/layers/moe.py — MOE: router RowLinear(H, E, bias=False, dtype=float32); experts fc
//   [E, 2·F/tp (gated) or F/tp, H], proj [E, H, F/tp].
// - tensorrt_llm/models/gpt/model.py — GPTModel / GPTDecoderLayer / GPTForCausalLM (MLPFactory: GatedMLP iff
//   is_gated_activation(hidden_act); one `bias` flag for attention and MLP; LayerNorms; lm_head
//   ColumnLinear(H, pad_vocab_size(V, tp)) on the last stage; position_embedding for learned_absolute).
// - tensorrt_llm/models/llama/model.py — LLaMAModel / LLaMADecoderLayer / LLaMAForCausalLM (RmsNorm; Attention
//   bias = attn_bias; GatedMLP or MOE with bias = mlp_bias; ln_f when use_last_layernorm, default true).
// - tensorrt_llm/functional.py — is_gated_activation: swiglu, geglu, fast-swiglu (gegelu is a plain MLP).

export interface ParamSpec {
  readonly shape: readonly number[];
  readonly dtype: string;
}

export interface ProvidedTensor {
  readonly name: string;
  readonly shape: readonly number[];
  /** safetensors name (F32, BF16, ...) or our dtype name */
  readonly dtype: string;
}

export interface LoadResult {
  /** load or build failures: missing parameters, wrong shapes, an lm_head that stays uninitialised */
  readonly errors: string[];
  /** tensors TensorRT-LLM drops with a warning: weights that would silently not be used */
  readonly ignored: string[];
  /** dtype differences (TensorRT-LLM warns and keeps the provided dtype) */
  readonly dtypeWarnings: string[];
}

type Cfg = Readonly<Record<string, unknown>>;

const TO_TRT: Record<string, string> = { float32: 'float32', F32: 'float32', float16: 'float16', F16: 'float16', bfloat16: 'bfloat16', BF16: 'bfloat16' };
const GATED = ['swiglu', 'geglu', 'fast-swiglu'];

const num = (c: Cfg, k: string, dflt?: number): number => {
  const v = c[k];
  if (typeof v === 'number') return v;
  if (dflt !== undefined) return dflt;
  throw new Error(`config.json has no number '${k}'`);
};
const bool = (c: Cfg, k: string, dflt: boolean): boolean => (typeof c[k] === 'boolean' ? (c[k] as boolean) : dflt);

export function padVocab(v: number, tp: number): number {
  return Math.ceil(v / tp) * tp;
}

/** Mapping.pp_layers: torch.tensor_split(arange(L), pp)[ppRank]. */
export function ppLayersOf(layers: number, pp: number, ppRank: number): number[] {
  const base = Math.floor(layers / pp);
  const extra = layers % pp;
  const start = ppRank * base + Math.min(ppRank, extra);
  return Array.from({ length: base + (ppRank < extra ? 1 : 0) }, (_, i) => start + i);
}

export function mappingOf(c: Cfg): { tp: number; pp: number; world: number } {
  const m = (c['mapping'] ?? {}) as Cfg;
  const tp = num(m, 'tp_size', 1);
  const pp = num(m, 'pp_size', 1);
  return { tp, pp, world: num(m, 'world_size', tp * pp) };
}

function moeExperts(c: Cfg): number {
  const moe = c['moe'] as Cfg | undefined;
  return moe ? num(moe, 'num_experts', 0) : num(c, 'moe_num_experts', 0);
}

/** The parameters (name → shape, dtype) the model class declares for `config` on world rank `rank`. */
export function declaredParameters(c: Cfg, rank: number): Map<string, ParamSpec> {
  const arch = String(c['architecture']);
  const gpt = arch === 'GPTForCausalLM';
  const llama = arch === 'LlamaForCausalLM' || arch === 'MistralForCausalLM' || arch === 'MixtralForCausalLM';
  if (!gpt && !llama) throw new Error(`no model class for architecture ${arch} in this reading`);
  const { tp, pp } = mappingOf(c);
  const ppRank = Math.floor(rank / tp);
  const dtype = String(c['dtype']);
  const H = num(c, 'hidden_size');
  const V = num(c, 'vocab_size');
  const L = num(c, 'num_hidden_layers');
  const nq = num(c, 'num_attention_heads');
  const nkv = num(c, 'num_key_value_heads', nq);
  const hd = num(c, 'head_size', Math.floor(H / nq));
  const F = num(c, 'intermediate_size', 4 * H);
  const act = String(c['hidden_act'] ?? 'gelu');
  const out = new Map<string, ParamSpec>();
  const p = (name: string, shape: number[], dt = dtype) => out.set(name, { shape, dtype: dt });

  // Embedding (parallelize_embedding when use_parallel_embedding)
  const parallel = bool(c, 'use_parallel_embedding', false);
  const dim = num(c, 'embedding_sharding_dim', 0);
  const embedding = (rows: number): number[] => (!parallel || tp === 1 ? [rows, H] : dim === 0 ? [Math.ceil(rows / tp), H] : [rows, H / tp]);

  if (ppRank === 0) {
    p('transformer.vocab_embedding.weight', embedding(V));
    if (gpt && String(c['position_embedding_type'] ?? 'learned_absolute') === 'learned_absolute') p('transformer.position_embedding.weight', embedding(num(c, 'max_position_embeddings')));
  }
  const bias = gpt ? bool(c, 'bias', true) : false;
  const attnBias = gpt ? bias : bool(c, 'attn_bias', false);
  const mlpBias = gpt ? bias : bool(c, 'mlp_bias', false);
  const kvr = Math.ceil(nkv / tp);
  const experts = moeExperts(c);
  ppLayersOf(L, pp, ppRank).forEach((_, local) => {
    const pre = `transformer.layers.${local}.`;
    p(`${pre}input_layernorm.weight`, [H]);
    if (gpt) p(`${pre}input_layernorm.bias`, [H]);
    p(`${pre}attention.qkv.weight`, [(nq / tp + 2 * kvr) * hd, H]);
    if (attnBias) p(`${pre}attention.qkv.bias`, [(nq / tp + 2 * kvr) * hd]);
    p(`${pre}attention.dense.weight`, [H, (nq * hd) / tp]);
    if (attnBias) p(`${pre}attention.dense.bias`, [H]);
    if (experts > 1) {
      const gatedMoe = GATED.includes(act);
      p(`${pre}mlp.router.weight`, [experts, H], 'float32');
      p(`${pre}mlp.fc.weight`, [experts, ((gatedMoe ? 2 : 1) * F) / tp, H]);
      p(`${pre}mlp.proj.weight`, [experts, H, F / tp]);
    } else {
      const gated = llama || GATED.includes(act);
      p(`${pre}mlp.fc.weight`, [F / tp, H]);
      if (mlpBias) p(`${pre}mlp.fc.bias`, [F / tp]);
      if (gated) {
        p(`${pre}mlp.gate.weight`, [F / tp, H]);
        if (mlpBias) p(`${pre}mlp.gate.bias`, [F / tp]);
      }
      p(`${pre}mlp.proj.weight`, [H, F / tp]);
      if (mlpBias) p(`${pre}mlp.proj.bias`, [H]);
    }
    p(`${pre}post_layernorm.weight`, [H]);
    if (gpt) p(`${pre}post_layernorm.bias`, [H]);
  });
  if (ppRank === pp - 1) {
    p('transformer.ln_f.weight', [H]);
    if (gpt) p('transformer.ln_f.bias', [H]);
    p('lm_head.weight', [padVocab(V, tp) / tp, H]);
  }
  return out;
}

const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** PretrainedModel.load of one rank file, then the build's share_embedding pass. */
export function loadRank(c: Cfg, rank: number, provided: readonly ProvidedTensor[]): LoadResult {
  const declared = declaredParameters(c, rank);
  const byName = new Map(provided.map((t) => [t.name, t]));
  const errors: string[] = [];
  const dtypeWarnings: string[] = [];
  const hasEmbedding = provided.some((t) => t.name.endsWith('vocab_embedding.weight'));
  let lmHeadExempt = false;
  for (const [name, spec] of declared) {
    const t = byName.get(name);
    if (!t) {
      if (name.endsWith('lm_head.weight') && hasEmbedding) lmHeadExempt = true;
      else errors.push(`rank ${rank}: required but not provided: ${name}`);
      continue;
    }
    if (!same(t.shape, spec.shape)) errors.push(`rank ${rank}: ${name} has shape [${t.shape}], the model declares [${spec.shape}]`);
    if ((TO_TRT[t.dtype] ?? t.dtype) !== spec.dtype) dtypeWarnings.push(`rank ${rank}: ${name} is ${t.dtype}, the model declares ${spec.dtype}`);
  }
  const ignored = provided.filter((t) => !declared.has(t.name)).map((t) => `rank ${rank}: provided but not required: ${t.name}`);
  if (lmHeadExempt) {
    const emb = declared.get('transformer.vocab_embedding.weight');
    const head = declared.get('lm_head.weight')!;
    const embTensor = byName.get('transformer.vocab_embedding.weight');
    const tied = emb !== undefined && same(emb.shape, head.shape) && embTensor !== undefined && (TO_TRT[embTensor.dtype] ?? embTensor.dtype) === head.dtype;
    if (!tied) errors.push(`rank ${rank}: lm_head.weight is absent and cannot be tied to vocab_embedding (shapes [${emb?.shape ?? 'none'}] vs [${head.shape}]): the engine would run an uninitialised lm_head`);
  }
  return { errors, ignored, dtypeWarnings };
}

/** Every rank of a checkpoint; `rankTensors(r)` lists rank r's tensors (undefined: the file is missing). */
export function loadCheckpoint(c: Cfg, rankTensors: (rank: number) => readonly ProvidedTensor[] | undefined): LoadResult {
  const all: LoadResult = { errors: [], ignored: [], dtypeWarnings: [] };
  for (let r = 0; r < mappingOf(c).world; r++) {
    const ts = rankTensors(r);
    if (!ts) {
      all.errors.push(`rank${r}.safetensors is missing`);
      continue;
    }
    const res = loadRank(c, r, ts);
    all.errors.push(...res.errors);
    all.ignored.push(...res.ignored);
    all.dtypeWarnings.push(...res.dtypeWarnings);
  }
  return all;
}
