// Megatron logical tensors + config → a Hugging Face model (config + state dict of lazy views).
import { fail } from '../errors.js';
import { explainModelFamily } from '../megatron/model-type.js';
import type { ModelFamily, ModelType, TransformerConfig } from '../megatron/types.js';
import { bigcodeModel } from './arch/bigcode.js';
import { falconModel } from './arch/falcon.js';
import { gemmaModel } from './arch/gemma.js';
import { gpt2Model } from './arch/gpt2.js';
import { llamaModel } from './arch/llama.js';
import { mixtralModel } from './arch/mixtral.js';
import { deepseekV3Model } from './arch/deepseek-v3.js';
import { glm4MoeModel } from './arch/glm4-moe.js';
import { nemotronModel } from './arch/nemotron.js';
import { qwen2Model, qwen3Model } from './arch/qwen.js';
import { qwen3MoeModel } from './arch/qwen3-moe.js';
import { requireStandardFunction } from './common.js';
import { SourceTensors } from './source.js';
import type { HfConvertInput, HfModel, HfRule } from './types.js';

/** The transformers architecture each Megatron model type becomes (a type without one is refused). */
export const HF_ARCHITECTURES: Readonly<Partial<Record<ModelType, { architecture: string; rule: HfRule }>>> = {
  gpt: { architecture: 'GPT2LMHeadModel', rule: gpt2Model },
  gptnext: { architecture: 'NemotronForCausalLM', rule: nemotronModel },
  llama: { architecture: 'LlamaForCausalLM', rule: llamaModel },
  mixtral: { architecture: 'MixtralForCausalLM', rule: mixtralModel },
  gemma: { architecture: 'GemmaForCausalLM', rule: gemmaModel },
  starcoder: { architecture: 'GPTBigCodeForCausalLM', rule: bigcodeModel },
  falcon: { architecture: 'FalconForCausalLM', rule: falconModel },
};

/** The transformers class of each modern family (lib/megatron/model-type.ts explainModelFamily). */
export const HF_FAMILY_ARCHITECTURES: Readonly<Record<ModelFamily, { architecture: string; rule: HfRule }>> = {
  qwen2: { architecture: 'Qwen2ForCausalLM', rule: qwen2Model },
  qwen3: { architecture: 'Qwen3ForCausalLM', rule: qwen3Model },
  qwen3_moe: { architecture: 'Qwen3MoeForCausalLM', rule: qwen3MoeModel },
  glm4_moe: { architecture: 'Glm4MoeForCausalLM', rule: glm4MoeModel },
  deepseek_v3: { architecture: 'DeepseekV3ForCausalLM', rule: deepseekV3Model },
};

/**
 * The rule for a checkpoint: a modern family (Qwen2/3, Qwen3-MoE, GLM-4-MoE, DeepSeek-V3) when the architecture
 * facts say so and the model type is the classic one it would be guessed as (llama, mixtral: those classes
 * cannot hold QK-norm, MLA, shared experts or expert bias) or one without a Hugging Face class of its own (a
 * TensorRT-LLM-only type); else the model type's own.
 */
export function hfRuleFor(config: TransformerConfig, modelType: ModelType): { architecture: string; rule: HfRule } | undefined {
  const classic = HF_ARCHITECTURES[modelType];
  const family = !classic || modelType === 'llama' || modelType === 'mixtral' ? explainModelFamily(config)?.family : undefined;
  return family ? HF_FAMILY_ARCHITECTURES[family] : classic;
}

/** Vocabulary rows to keep: padding rows past the tokenizer's vocabulary are dropped. */
export function hfVocabSize(input: Pick<HfConvertInput, 'config' | 'vocabSize' | 'where'>): number {
  const padded = input.config.paddedVocabSize;
  const v = input.vocabSize ?? input.config.vocabSize ?? padded;
  if (!Number.isInteger(v) || v < 1 || v > padded) fail('E_CONFIG', `vocabulary size ${v} must be between 1 and the checkpoint's ${padded} rows`, input.where ? { file: input.where } : {});
  return v;
}

/** Applies the model type's rule, then checks no checkpoint tensor was left out and no name repeats. */
export function toHfModel(input: HfConvertInput): HfModel {
  const where = input.where ?? '<tensors>';
  const entry = hfRuleFor(input.config, input.modelType);
  if (!entry) fail('E_UNSUPPORTED', `no Hugging Face export for model type '${String(input.modelType)}'`, { file: where });
  requireStandardFunction(input.args ?? null, where);
  const src = new SourceTensors(input.tensors, where);
  const model = entry.rule({ cfg: input.config, args: input.args ?? null, vocab: hfVocabSize(input), src, where });
  const notes = [...(model.notes ?? []), ...leaveOutMtp(input, src, model.architecture)];
  src.assertAllUsed(model.architecture);
  const seen = new Set<string>();
  for (const t of model.tensors) {
    if (seen.has(t.name)) fail('E_CONFIG', `internal: ${model.architecture} rule wrote ${t.name} twice`, { tensor: t.name });
    seen.add(t.name);
  }
  return notes.length ? { ...model, notes } : model;
}

/**
 * Multi-token-prediction layers (`mtp.layers.<i>.*`, --mtp-num-layers) only serve training and speculative
 * decoding; the main model's outputs do not depend on them. A rule whose target has a place for them
 * (DeepSeek-V3: lib/hf/arch/mtp.ts) consumes them; for every other target they are left out, said in the summary.
 */
function leaveOutMtp(input: HfConvertInput, src: SourceTensors, target: string): string[] {
  const mtp = [...input.tensors.keys()].filter((n) => n.startsWith('mtp.') && !src.isUsed(n));
  if (mtp.length === 0) return [];
  src.ignore((n) => n.startsWith('mtp.'));
  return [`${input.config.mtpNumLayers || 'the'} multi-token-prediction layer(s) left out (${mtp.length} tensors under mtp.layers.*): ${target} has no place for them and they are not part of the model's forward pass`];
}
