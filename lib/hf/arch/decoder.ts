// The Llama-shaped decoder (embed_tokens, layers.N.{input_layernorm, self_attn.{q,k,v,o}_proj,
// post_attention_layernorm, mlp}, norm, lm_head) that Llama, Mixtral, Nemotron and Gemma share in transformers.
import { fail } from '../../errors.js';
import type { PyJson } from '../../export/pyjson.js';
import type { Affine } from '../../plan/plan.js';
import { hfActivation } from '../common.js';
import { layerNames } from '../source.js';
import { splitGatedFc1, splitQkv } from '../split.js';
import type { HfRuleContext, HfTensor } from '../types.js';
import { biasOrZeros, lmHead, normTensors, wordEmbeddings } from './parts.js';

/** One layer's tensors for a part of the block (attention or MLP) that a rule writes itself. */
export type LayerPart = (ctx: HfRuleContext, layer: number, prefix: string) => HfTensor[];

export interface DecoderShape {
  /** norms carry a bias (LayerNorm) */
  readonly normBias: boolean;
  /** applied to every norm weight (±1 between gamma conventions) */
  readonly normAffine?: Affine | undefined;
  /** 'gated': gate_proj/up_proj/down_proj; 'plain': up_proj/down_proj; 'mixtral': block_sparse_moe; or the rule's own */
  readonly mlp: 'gated' | 'plain' | 'mixtral' | LayerPart;
  /** self_attn.q_norm / k_norm from Megatron's q_layernorm / k_layernorm (QK-layernorm, per head) */
  readonly qkNorm?: boolean;
  /** the rule's own attention (multi-latent attention); default: q/k/v/o_proj from the fused QKV */
  readonly attention?: LayerPart;
  /** how the default attention writes o_proj's bias (see gqaAttention) */
  readonly oProjBias?: 'zeros-with-qkv-bias' | 'never';
  /** write lm_head.weight even when the checkpoint ties it (false when the target ties it to embed_tokens too) */
  readonly lmHead: boolean;
}

/** The config fields every Llama-shaped target starts with, in transformers' order (rules override values in place). */
export function decoderConfig(ctx: HfRuleContext): Record<string, PyJson> {
  const { cfg } = ctx;
  return {
    vocab_size: ctx.vocab,
    hidden_size: cfg.hiddenSize,
    intermediate_size: cfg.ffnHiddenSize,
    num_hidden_layers: cfg.numLayers,
    num_attention_heads: cfg.numAttentionHeads,
    num_key_value_heads: cfg.numQueryGroups,
    head_dim: cfg.kvChannels,
    hidden_act: hfActivation(cfg, ctx.args, ctx.where),
    max_position_embeddings: cfg.maxPositionEmbeddings,
  };
}

export function decoderTensors(ctx: HfRuleContext, shape: DecoderShape): HfTensor[] {
  const out: HfTensor[] = [];
  out.push({ name: 'model.embed_tokens.weight', tensor: wordEmbeddings(ctx) });
  for (let i = 0; i < ctx.cfg.numLayers; i++) out.push(...decoderLayer(ctx, shape, i));
  out.push(...normTensors(ctx.src, 'model.norm', (w) => [`decoder.final_layernorm.${w}`], shape.normAffine, shape.normBias));
  out.push(...lmHead(ctx, shape.lmHead));
  return out;
}

/** Layer i's tensors (`model.layers.<i>.*`) from `decoder.layers.<i>.*` of `ctx.src`. */
export function decoderLayer(ctx: HfRuleContext, shape: DecoderShape, i: number): HfTensor[] {
  const norm = (hfName: string, names: (w: 'weight' | 'bias') => string[]) => normTensors(ctx.src, hfName, names, shape.normAffine, shape.normBias);
  const m = layerNames(i);
  const h = `model.layers.${i}.`;
  const out: HfTensor[] = [];
  out.push(...norm(`${h}input_layernorm`, m.inputNorm));
  out.push(...(shape.attention ?? gqaAttention(shape.qkNorm ?? false, shape.oProjBias ?? 'zeros-with-qkv-bias'))(ctx, i, h));
  out.push(...norm(`${h}post_attention_layernorm`, m.preMlpNorm));
  if (typeof shape.mlp === 'function') out.push(...shape.mlp(ctx, i, `${h}mlp.`));
  else if (shape.mlp === 'mixtral') out.push(...mixtralExperts(ctx, i));
  else out.push(...denseMlp(ctx, i, shape.mlp === 'gated'));
  return out;
}

/**
 * q/k/v/o_proj from Megatron's fused QKV. `oProjBias`: 'zeros-with-qkv-bias' for targets whose attention_bias
 * covers all four projections (a QKV-only bias gets a zero o_proj bias); 'never' for targets whose o_proj has
 * no bias (Qwen2, GLM-4-MoE).
 */
export function gqaAttention(qkNorm: boolean, oProjBias: 'zeros-with-qkv-bias' | 'never'): LayerPart {
  return (ctx, i, h) => {
    const { cfg, src } = ctx;
    const m = layerNames(i);
    const out: HfTensor[] = [];
    const qkv = splitQkv(src.get(m.qkv('weight')), cfg, m.qkv('weight'));
    out.push({ name: `${h}self_attn.q_proj.weight`, tensor: qkv.q }, { name: `${h}self_attn.k_proj.weight`, tensor: qkv.k }, { name: `${h}self_attn.v_proj.weight`, tensor: qkv.v });
    if (cfg.addQkvBias) {
      const b = splitQkv(src.get(m.qkv('bias')), cfg, m.qkv('bias'));
      out.push({ name: `${h}self_attn.q_proj.bias`, tensor: b.q }, { name: `${h}self_attn.k_proj.bias`, tensor: b.k }, { name: `${h}self_attn.v_proj.bias`, tensor: b.v });
    }
    const proj = src.get(m.proj('weight'));
    out.push({ name: `${h}self_attn.o_proj.weight`, tensor: proj });
    if (src.has(m.proj('bias')) && (oProjBias === 'never' || !cfg.addQkvBias)) fail('E_UNSUPPORTED', 'the target has no bias on the output projection; the checkpoint has one', { file: ctx.where, tensor: m.proj('bias') });
    if (cfg.addQkvBias && oProjBias === 'zeros-with-qkv-bias') out.push({ name: `${h}self_attn.o_proj.bias`, tensor: biasOrZeros(src, m.proj('bias'), proj) });
    if (qkNorm) {
      // Megatron's q_layernorm / k_layernorm normalise each head after the QKV split, before RoPE: HF q_norm / k_norm
      out.push({ name: `${h}self_attn.q_norm.weight`, tensor: src.get(`${m.prefix}self_attention.q_layernorm.weight`) });
      out.push({ name: `${h}self_attn.k_norm.weight`, tensor: src.get(`${m.prefix}self_attention.k_layernorm.weight`) });
    }
    return out;
  };
}

/** Layer i's dense MLP as `model.layers.<i>.mlp.{gate,up,down}_proj` (or up/down when not gated). */
export function denseMlp(ctx: HfRuleContext, i: number, gated: boolean): HfTensor[] {
  const { cfg, src } = ctx;
  const m = layerNames(i);
  const h = `model.layers.${i}.mlp.`;
  const out: HfTensor[] = [];
  const fc1 = src.get(m.fc1('weight'));
  const fc1b = cfg.addBiasLinear ? src.get(m.fc1('bias')) : undefined;
  if (gated) {
    const w = splitGatedFc1(fc1, cfg.ffnHiddenSize, m.fc1('weight'));
    out.push({ name: `${h}gate_proj.weight`, tensor: w.gate }, { name: `${h}up_proj.weight`, tensor: w.up });
    if (fc1b) {
      const b = splitGatedFc1(fc1b, cfg.ffnHiddenSize, m.fc1('bias'));
      out.push({ name: `${h}gate_proj.bias`, tensor: b.gate }, { name: `${h}up_proj.bias`, tensor: b.up });
    }
  } else {
    out.push({ name: `${h}up_proj.weight`, tensor: fc1 });
    if (fc1b) out.push({ name: `${h}up_proj.bias`, tensor: fc1b });
  }
  out.push({ name: `${h}down_proj.weight`, tensor: src.get(m.fc2('weight')) });
  if (cfg.addBiasLinear) out.push({ name: `${h}down_proj.bias`, tensor: src.get(m.fc2('bias')) });
  return out;
}

/** Mixtral's classic Hub layout: block_sparse_moe.gate + experts.E.{w1 (gate), w3 (up), w2 (down)}. */
function mixtralExperts(ctx: HfRuleContext, i: number): HfTensor[] {
  const { cfg, src } = ctx;
  const m = layerNames(i);
  const h = `model.layers.${i}.block_sparse_moe.`;
  const out: HfTensor[] = [{ name: `${h}gate.weight`, tensor: src.get(m.router('weight')) }];
  const ffn = cfg.moeFfnHiddenSize ?? cfg.ffnHiddenSize;
  for (let j = 0; j < cfg.numMoeExperts!; j++) {
    const fc1Names = m.expert(j, 'linear_fc1', 'weight');
    const w = splitGatedFc1(src.get(...fc1Names), ffn, fc1Names[0]!);
    out.push(
      { name: `${h}experts.${j}.w1.weight`, tensor: w.gate },
      { name: `${h}experts.${j}.w2.weight`, tensor: src.get(...m.expert(j, 'linear_fc2', 'weight')) },
      { name: `${h}experts.${j}.w3.weight`, tensor: w.up },
    );
  }
  return out;
}
