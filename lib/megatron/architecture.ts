// The architecture facts of a config in words (for `inspect`): attention kind, MLP / experts / shared experts /
// router, which layers are dense and which MoE, multi-token-prediction layers, and the modern family.
import { explainModelFamily } from './model-type.js';
import type { ModelFamily, TransformerConfig } from './types.js';

export interface ArchitectureFacts {
  /** 'multi-latent' | 'grouped-query' | 'multi-query' | 'multi-head', with its sizes */
  attention: string;
  /** 'dense' or the MoE block: experts, shared experts, router */
  mlp: string;
  /** which decoder layers are dense and which MoE, as ranges */
  layers: string;
  mtpLayers: number;
  family: ModelFamily | null;
}

/** `[0, 1, 2, 5]` → '0-2, 5' */
function ranges(ix: readonly number[]): string {
  const out: string[] = [];
  for (let i = 0; i < ix.length; i++) {
    let j = i;
    while (j + 1 < ix.length && ix[j + 1] === ix[j]! + 1) j++;
    out.push(i === j ? `${ix[i]}` : `${ix[i]}-${ix[j]}`);
    i = j;
  }
  return out.join(', ');
}

function attentionOf(c: TransformerConfig): string {
  const extras = [c.qkLayernorm && 'QK-layernorm', c.addQkvBias && 'QKV bias'].filter(Boolean).join(', ');
  if (c.mla) {
    const m = c.mla;
    const q = m.qLoraRank === null ? 'no q compression' : `q_lora_rank ${m.qLoraRank}`;
    const rope = m.ropeType === 'yarn' ? `YaRN ×${m.rotaryScalingFactor} (original ${m.originalMaxPositionEmbeddings}, mscale ${m.mscale}/${m.mscaleAllDim})` : 'rope';
    return `multi-latent, ${c.numAttentionHeads} heads, ${q}, kv_lora_rank ${m.kvLoraRank}, qk head ${m.qkHeadDim} + rope ${m.qkPosEmbHeadDim}, v head ${m.vHeadDim}, ${rope}${c.qkLayernorm ? ', latent norms' : ''}`;
  }
  const kind = c.numQueryGroups === c.numAttentionHeads ? 'multi-head' : c.numQueryGroups === 1 ? 'multi-query' : 'grouped-query';
  return `${kind}, ${c.numAttentionHeads} heads, ${c.numQueryGroups} KV group(s), head dim ${c.kvChannels}${extras ? `, ${extras}` : ''}`;
}

function mlpOf(c: TransformerConfig): string {
  const m = c.moe;
  if (!m) return `dense, ffn ${c.ffnHiddenSize}${c.gatedLinearUnit ? ` (gated ${c.activation})` : ` (${c.activation})`}`;
  const router = [
    m.scoreFunction,
    m.preSoftmax && 'pre-softmax',
    m.enableExpertBias && 'expert bias (selection only)',
    m.topkScalingFactor !== undefined && `×${m.topkScalingFactor}`,
    m.groupTopk && `${m.groupTopk} of ${m.numGroups} groups`,
    m.routerDtype && `in ${m.routerDtype}`,
  ].filter(Boolean);
  const shared = m.sharedExpertIntermediateSize ? `, shared experts ${m.sharedExpertIntermediateSize}${m.sharedExpertGate ? ' (gated)' : ''}` : ', no shared experts';
  return `MoE, ${m.numExperts} experts top-${m.topk}, expert ffn ${m.ffnHiddenSize}${shared}, router ${router.join(', ')}${m.groupedGemm ? ', grouped GEMM' : ''}`;
}

function layersOf(c: TransformerConfig): string {
  const moe = c.moe?.layers;
  if (!moe) return `${c.numLayers} dense`;
  const dense = moe.flatMap((x, i) => (x ? [] : [i]));
  const sparse = moe.flatMap((x, i) => (x ? [i] : []));
  return [dense.length && `dense ${ranges(dense)}`, sparse.length && `MoE ${ranges(sparse)}`].filter(Boolean).join('; ');
}

export function describeArchitecture(c: TransformerConfig): ArchitectureFacts {
  return { attention: attentionOf(c), mlp: mlpOf(c), layers: layersOf(c), mtpLayers: c.mtpNumLayers, family: explainModelFamily(c)?.family ?? null };
}
