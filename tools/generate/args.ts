// Megatron's `args` namespace for a generated checkpoint: the fields readers and exporters consult, named and
// typed as Megatron-LM's argument parser stores them (dtypes as torch dtype objects, exit_signal as a
// signal.Signals enum), plus a few common training fields. Megatron's own enums (AttnBackend, ...) are left
// out so that plain PyTorch can load the files without Megatron installed.
import { py, type PyValue } from './pickle.js';
import { paddedVocabSize, type ModelSpec, type Parallel } from './model.js';

export type CkptFormat = 'torch' | 'torch_dist';

export function argsFields(spec: ModelSpec, par: Parallel, format: CkptFormat, iteration: number, savePath: string): Map<string, PyValue> {
  const f = py.float;
  const dtype = py.torchDtype(spec.dtype);
  const fp32 = py.torchDtype('float32');
  const gqa = spec.numQueryGroups !== spec.numAttentionHeads;
  const a: [string, PyValue][] = [
    ['tensor_model_parallel_size', par.tp],
    ['pipeline_model_parallel_size', par.pp],
    ['sequence_parallel', false],
    ['context_parallel_size', 1],
    ['expert_model_parallel_size', 1],
    ['expert_tensor_parallel_size', par.tp],
    ['virtual_pipeline_model_parallel_size', null],
    ['num_layers_per_virtual_pipeline_stage', null],
    ['decoder_first_pipeline_num_layers', null],
    ['decoder_last_pipeline_num_layers', null],
    ['account_for_embedding_in_pipeline_split', false],
    ['account_for_loss_in_pipeline_split', false],
    ['pipeline_model_parallel_layout', null],
    ['num_layers', spec.numLayers],
    ['encoder_num_layers', spec.numLayers],
    ['decoder_num_layers', null],
    ['hidden_size', spec.hiddenSize],
    ['ffn_hidden_size', spec.ffnHiddenSize],
    ['num_attention_heads', spec.numAttentionHeads],
    ['group_query_attention', gqa],
    ['num_query_groups', spec.numQueryGroups],
    ['kv_channels', spec.kvChannels],
    ['attention_output_gate', false],
    ['qk_layernorm', false],
    ['multi_latent_attention', false],
    ['max_position_embeddings', spec.maxPositionEmbeddings],
    ['seq_length', spec.maxPositionEmbeddings],
    ['position_embedding_type', spec.positionEmbeddingType],
    ['use_rotary_position_embeddings', false],
    ['rotary_base', spec.rotaryBase],
    ['rotary_percent', f(spec.rotaryPercent)],
    ['rotary_interleaved', false],
    ['rotary_seq_len_interpolation_factor', null],
    ['use_rope_scaling', false],
    ['rope_scaling_factor', f(8.0)],
    ['make_vocab_size_divisible_by', spec.makeVocabSizeDivisibleBy],
    ['vocab_size', spec.vocabSize],
    ['padded_vocab_size', paddedVocabSize(spec, par.tp)],
    ['tokenizer_type', 'NullTokenizer'],
    ['untie_embeddings_and_output_weights', spec.untieEmbeddings],
    ['normalization', spec.normalization],
    ['norm_epsilon', f(spec.normEpsilon)],
    ['layernorm_epsilon', f(spec.normEpsilon)],
    ['apply_layernorm_1p', spec.layernormZeroCenteredGamma],
    ['layernorm_zero_centered_gamma', spec.layernormZeroCenteredGamma],
    ['apply_residual_connection_post_layernorm', false],
    ['swiglu', spec.swiglu],
    ['squared_relu', false],
    ['openai_gelu', false],
    ['onnx_safe', null],
    ['bias_gelu_fusion', spec.addBiasLinear && !spec.swiglu],
    ['bias_swiglu_fusion', spec.swiglu],
    ['add_bias_linear', spec.addBiasLinear],
    ['add_qkv_bias', spec.addQkvBias],
    ['num_experts', null],
    ['moe_router_topk', 2],
    ['moe_ffn_hidden_size', null],
    ['init_method_std', f(0.02)],
    ['hidden_dropout', f(0.0)],
    ['attention_dropout', f(0.0)],
    ['fp16', spec.dtype === 'float16'],
    ['bf16', spec.dtype === 'bfloat16'],
    ['params_dtype', dtype],
    ['main_grads_dtype', fp32],
    ['main_params_dtype', fp32],
    ['exp_avg_dtype', fp32],
    ['exp_avg_sq_dtype', fp32],
    ['fp8', null],
    ['transformer_impl', 'local'],
    ['use_legacy_models', false],
    ['ckpt_format', format],
    ['use_dist_ckpt', format === 'torch_dist'],
    ['save', savePath],
    ['load', null],
    ['no_save_optim', true],
    ['no_save_rng', null],
    ['async_save', false],
    ['iteration', iteration],
    ['train_iters', iteration],
    ['micro_batch_size', 1],
    ['global_batch_size', 1],
    ['lr', f(1e-4)],
    ['seed', 1234],
    ['consumed_train_samples', 0],
    ['world_size', par.tp * par.pp],
    ['data_parallel_size', 1],
    ['rank', 0],
    ['exit_signal', py.reduce(py.global('signal', 'Signals'), py.tuple(15))],
    ['cp_comm_type', ['p2p']],
  ];
  if (spec.mla || spec.moe) a.push(...modernArgs(spec));
  if (spec.mtpNumLayers) a.push(['mtp_num_layers', spec.mtpNumLayers]);
  return new Map(a);
}

/** MLA and DeepSeek-V3 MoE flags as Megatron's parser stores them (later entries replace the defaults above). */
function modernArgs(spec: ModelSpec): [string, PyValue][] {
  const out: [string, PyValue][] = [];
  const m = spec.mla;
  if (m) {
    out.push(
      ['multi_latent_attention', true],
      ['qk_layernorm', true],
      ['q_lora_rank', m.qLoraRank],
      ['kv_lora_rank', m.kvLoraRank],
      ['qk_head_dim', m.qkHeadDim],
      ['qk_pos_emb_head_dim', m.qkPosEmbHeadDim],
      ['v_head_dim', m.vHeadDim],
      ['rope_type', 'yarn'],
      ['rotary_scaling_factor', py.float(40.0)],
      ['mscale', py.float(1.0)],
      ['mscale_all_dim', py.float(1.0)],
    );
  }
  const e = spec.moe;
  if (e) {
    out.push(
      ['num_experts', e.numExperts],
      ['moe_router_topk', e.topk],
      ['moe_ffn_hidden_size', e.ffnHiddenSize],
      ['moe_shared_expert_intermediate_size', e.sharedExpertIntermediateSize],
      ['moe_layer_freq', Array.from({ length: spec.numLayers }, (_, i) => (i < e.firstKDense ? 0 : 1))],
      ['moe_router_score_function', 'sigmoid'],
      ['moe_router_enable_expert_bias', true],
      ['moe_router_topk_scaling_factor', py.float(2.5)],
      ['moe_router_dtype', 'fp32'],
    );
  }
  return out;
}
