import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ErrorCode, isExportError } from '../errors.js';
import { readSafetensorsHeader } from '../formats/safetensors.js';
import { dtypeFromSafetensors } from '../tensor/dtype.js';
import { fmtShape } from '../tensor/shape.js';
import { GATED_ACTIVATIONS } from './activation.js';
import { allRanks, ppLayers } from './mapping.js';
import { padVocabSize } from './rules.js';
import { RANK_FILE } from './export.js';

export interface VerifyProblem {
  readonly code: ErrorCode;
  readonly message: string;
  readonly file?: string | undefined;
  readonly tensor?: string | undefined;
}

export interface VerifyResult {
  readonly ok: boolean;
  readonly dir: string;
  readonly ranks: number;
  readonly tensors: number;
  readonly problems: readonly VerifyProblem[];
}

interface Expect {
  readonly shape: readonly number[];
  readonly required: boolean;
  readonly dtypes: readonly string[];
}

type Cfg = Record<string, unknown>;
const ARCHS = ['GPTForCausalLM', 'LlamaForCausalLM', 'MixtralForCausalLM', 'GemmaForCausalLM', 'FalconForCausalLM', 'Qwen2ForCausalLM', 'Qwen3ForCausalLM'];

/**
 * Checks a TensorRT-LLM checkpoint directory the way TensorRT-LLM's loader would: config fields, every rank file,
 * every tensor the architecture needs with its per-rank shape and dtype, and no tensor it would not use.
 */
export function verifyTrtllmDir(dir: string): VerifyResult {
  const problems: VerifyProblem[] = [];
  const add = (code: ErrorCode, message: string, file?: string, tensor?: string) => problems.push({ code, message, file, tensor });
  const cfgPath = join(dir, 'config.json');
  let cfg: Cfg;
  try {
    cfg = JSON.parse(readFileSync(cfgPath, 'utf8')) as Cfg;
    if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg)) throw new Error('not a JSON object');
  } catch (e) {
    add(existsSync(cfgPath) ? 'E_FORMAT' : 'E_NOT_FOUND', `config.json: ${(e as Error).message}`, cfgPath);
    return { ok: false, dir, ranks: 0, tensors: 0, problems };
  }
  // upper bounds keep hostile configs from sizing arrays (layers, ranks) beyond memory
  const int = (k: string, lo = 1, hi = 2 ** 31 - 1, from: Cfg = cfg, label = k): number => {
    const v = from[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) {
      add('E_CONFIG', `config field ${label} must be an integer in [${lo}, ${hi}], found ${JSON.stringify(v)}`, cfgPath);
      return NaN;
    }
    return v;
  };
  const arch = String(cfg['architecture']);
  if (!ARCHS.includes(arch)) add('E_UNSUPPORTED', `architecture '${arch}' is not one this tool checks (${ARCHS.join(', ')})`, cfgPath);
  const dtype = String(cfg['dtype']);
  if (!['float32', 'float16', 'bfloat16'].includes(dtype)) add('E_CONFIG', `dtype '${dtype}' is not float32, float16 or bfloat16`, cfgPath);
  const L = int('num_hidden_layers', 1, 1 << 20);
  const nq = int('num_attention_heads');
  const nkv = cfg['num_key_value_heads'] === undefined ? nq : int('num_key_value_heads');
  const H = int('hidden_size');
  const hd = cfg['head_size'] === undefined ? H / nq : int('head_size');
  const F = int('intermediate_size');
  const V = int('vocab_size');
  const mapping = (typeof cfg['mapping'] === 'object' && cfg['mapping'] !== null ? cfg['mapping'] : {}) as Cfg;
  const MAX_RANKS = 1 << 16;
  const tp = mapping['tp_size'] !== undefined ? int('tp_size', 1, MAX_RANKS, mapping, 'mapping.tp_size') : int('tp_size', 1, MAX_RANKS);
  const pp = mapping['pp_size'] !== undefined ? int('pp_size', 1, MAX_RANKS, mapping, 'mapping.pp_size') : int('pp_size', 1, MAX_RANKS);
  const world = mapping['world_size'] !== undefined ? int('world_size', 1, MAX_RANKS, mapping, 'mapping.world_size') : tp * pp;
  if (tp * pp > MAX_RANKS) add('E_CONFIG', `tp_size ${tp} × pp_size ${pp} exceeds ${MAX_RANKS} ranks`, cfgPath);
  else if (world !== tp * pp) add('E_CONFIG', `mapping.world_size ${world} ≠ tp_size ${tp} × pp_size ${pp}`, cfgPath);
  if (pp > L) add('E_CONFIG', `pp_size ${pp} exceeds num_hidden_layers ${L}`, cfgPath);
  if (nq % tp !== 0 || (nkv >= tp ? nkv % tp !== 0 : tp % nkv !== 0)) add('E_CONFIG', `tp_size ${tp} cannot split ${nq} heads / ${nkv} KV heads`, cfgPath);
  if (problems.length) return { ok: false, dir, ranks: 0, tensors: 0, problems };

  const act = String(cfg['hidden_act'] ?? 'gelu');
  const experts = typeof cfg['moe_num_experts'] === 'number' ? (cfg['moe_num_experts'] as number) : ((cfg['moe'] as Cfg | undefined)?.['num_experts'] as number | undefined) ?? 0;
  const moe = experts > 1;
  const gptClass = arch === 'GPTForCausalLM' || arch === 'FalconForCausalLM';
  const gated = gptClass ? (GATED_ACTIVATIONS as readonly string[]).includes(act) : true;
  // Which biases the model class declares (TRT:`models/gpt/model.py`: one `bias`, default true, for attention and
  // MLP, LayerNorm always with bias; `models/llama/model.py`: attn_bias for qkv and dense, mlp_bias; RmsNorm none).
  // Declared means required: PretrainedModel.load refuses a checkpoint without one. Falcon: optional, as found.
  const falcon = arch === 'FalconForCausalLM';
  const llamaClass = !gptClass;
  const gptBias = arch === 'GPTForCausalLM' && cfg['bias'] !== false;
  const attnBias = gptBias || (llamaClass && cfg['attn_bias'] === true) || (falcon && cfg['bias'] === true);
  const mlpBias = gptBias || (llamaClass && cfg['mlp_bias'] === true) || (falcon && cfg['bias'] === true);
  const biasRequired = !falcon;
  const normBias = arch === 'GPTForCausalLM' ? 'required' : falcon ? 'optional' : 'absent';
  const parallel = cfg['use_parallel_embedding'] === true;
  const shardDim = cfg['embedding_sharding_dim'] === 1 ? 1 : 0;
  // A rank file without lm_head loads only when it has vocab_embedding, and the build ties the two only when their
  // local shapes are equal (TRT:`models/modeling_utils.py` PretrainedModel.load, share_embedding): the same rank
  // (pp = 1) and the same split (tp = 1, or dim-0 parallel embedding). Otherwise lm_head must be in the file.
  const tieable = pp === 1 && (tp === 1 || (parallel && shardDim === 0));
  const learned = (cfg['position_embedding_type'] ?? 'learned_absolute') === 'learned_absolute';
  const maxPos = typeof cfg['max_position_embeddings'] === 'number' ? (cfg['max_position_embeddings'] as number) : 0;
  const postNorm = cfg['new_decoder_architecture'] === true ? 'mlp_layernorm' : 'post_layernorm';
  const kvr = Math.ceil(nkv / tp);
  // QWen (arch/qwen.ts): q/k norms over the head for qwen3 / qwen3_moe
  const qkNorm = cfg['qwen_type'] === 'qwen3' || cfg['qwen_type'] === 'qwen3_moe';
  const qwen = cfg['qwen_type'] !== undefined;

  let tensors = 0;
  const model = [dtype];
  for (const m of allRanks(tp, pp)) {
    const exp = new Map<string, Expect>();
    const need = (n: string, shape: number[], required = true, dtypes: readonly string[] = model) => exp.set(n, { shape, required, dtypes });
    const emb = (n: string, rows: number) => need(n, !parallel || tp === 1 ? [rows, H] : shardDim === 0 ? [Math.ceil(rows / tp), H] : [rows, H / tp]);
    if (m.ppRank === 0) {
      emb('transformer.vocab_embedding.weight', V);
      if (learned) emb('transformer.position_embedding.weight', maxPos);
    }
    const layers = ppLayers(L, pp, m.ppRank).length;
    for (let l = 0; l < layers; l++) {
      const p = `transformer.layers.${l}.`;
      need(`${p}input_layernorm.weight`, [H]);
      need(`${p}${postNorm}.weight`, [H]);
      if (normBias !== 'absent') {
        need(`${p}input_layernorm.bias`, [H], normBias === 'required');
        need(`${p}${postNorm}.bias`, [H], normBias === 'required');
      }
      need(`${p}attention.qkv.weight`, [(nq / tp + 2 * kvr) * hd, H]);
      need(`${p}attention.dense.weight`, [H, (nq * hd) / tp]);
      if (qkNorm) for (const n of ['q', 'k']) need(`${p}attention.${n}_layernorm.weight`, [hd]);
      if (attnBias) {
        need(`${p}attention.qkv.bias`, [(nq / tp + 2 * kvr) * hd], biasRequired);
        // QWen's attention has dense_bias=False whatever attn_bias says (TRT:`models/qwen/model.py` QWenDecoderLayer)
        if (!qwen) need(`${p}attention.dense.bias`, [H], biasRequired);
      }
      if (moe) {
        need(`${p}mlp.router.weight`, [experts, H], true, ['float32', dtype]);
        need(`${p}mlp.fc.weight`, [experts, ((gated || act === 'swiglu' ? 2 : 1) * F) / tp, H]);
        need(`${p}mlp.proj.weight`, [experts, H, F / tp]);
      } else {
        need(`${p}mlp.fc.weight`, [F / tp, H]);
        need(`${p}mlp.proj.weight`, [H, F / tp]);
        if (gated) need(`${p}mlp.gate.weight`, [F / tp, H]);
        if (mlpBias) {
          need(`${p}mlp.fc.bias`, [F / tp], biasRequired);
          need(`${p}mlp.proj.bias`, [H], biasRequired);
          if (gated) need(`${p}mlp.gate.bias`, [F / tp], biasRequired);
        }
      }
    }
    if (m.ppRank === pp - 1) {
      need('transformer.ln_f.weight', [H]);
      if (normBias !== 'absent') need('transformer.ln_f.bias', [H], normBias === 'required');
      need('lm_head.weight', [padVocabSize(V, tp) / tp, H], !tieable);
    }

    const file = join(dir, `rank${m.rank}.safetensors`);
    if (!existsSync(file)) {
      add('E_NOT_FOUND', `rank ${m.rank} (tp ${m.tpRank}, pp ${m.ppRank}) has no file`, file);
      continue;
    }
    let header;
    try {
      header = readSafetensorsHeader(file);
    } catch (e) {
      add(isExportError(e) ? e.code : 'E_FORMAT', (e as Error).message, file);
      continue;
    }
    const seen = new Set<string>();
    for (const e of header.entries) {
      tensors++;
      seen.add(e.name);
      const x = exp.get(e.name);
      const dt = dtypeFromSafetensors(e.dtype) ?? e.dtype;
      if (!x) add('E_FORMAT', 'stray tensor: TensorRT-LLM would ignore it ("provided but not required")', file, e.name);
      else if (e.shape.length !== x.shape.length || e.shape.some((d, i) => d !== x.shape[i])) add('E_SHAPE', `shape ${fmtShape(e.shape)}, expected ${fmtShape(x.shape)}`, file, e.name);
      else if (!x.dtypes.includes(dt)) add('E_SHAPE', `dtype ${dt}, expected ${x.dtypes.join(' or ')}`, file, e.name);
    }
    for (const [n, x] of exp) if (x.required && !seen.has(n)) add('E_NOT_FOUND', `missing tensor ${fmtShape(x.shape)} ${x.dtypes[0]}`, file, n);
  }
  for (const name of readdirSync(dir)) {
    const m = /^rank(\d+)\.safetensors$/.exec(name);
    if (m && RANK_FILE.test(name) && Number(m[1]) >= world) add('E_FORMAT', `rank file beyond world size ${world}`, join(dir, name));
  }
  return { ok: problems.length === 0, dir, ranks: world, tensors, problems };
}
