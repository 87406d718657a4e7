// Public API of mcore-export. Each area adds its own lines.
export { ExportError, isExportError, type ErrorCode } from './errors.js';
export type { Checkpoint, CheckpointFormat, ModelType, TransformerConfig } from './megatron/types.js';
export { MODEL_TYPES } from './megatron/types.js';
export { openCheckpoint, type OpenCheckpointOptions } from './megatron/open.js';
export type { CopyPlan, PlanFile, PlanTensor, PlanPiece, Affine } from './plan/plan.js';
export type { Progress } from './export/progress.js';
export type { ExportSummary } from './export/summary.js';
export type { PlanExecutor } from './export/executor.js';
// TensorRT-LLM
export { exportTrtllm, helperOptionsFor, type ExportTrtllmOptions, type ExportTrtllmResult } from './trtllm/export.js';
export { TRTLLMHelper, type TRTLLMHelperOptions, type ExportConfig, type GetWeightsOptions, type TrtllmRankWeights, type TrtllmPretrainedConfig } from './trtllm/helper.js';
export type { ParallelState } from './trtllm/distributed.js';
export { TRTLLMLayers, type TRTLLMLayer } from './trtllm/layers.js';
export { DEFAULT_CONVERSION_DICT, type ConversionDict } from './trtllm/conversion-dict.js';
export { verifyTrtllmDir, type VerifyResult, type VerifyProblem } from './trtllm/verify.js';
export { type TrtDType } from './trtllm/config.js';
export { decodeTeExtraState, type Fp8ScalingState } from './megatron/te-extra-state.js';
// Hugging Face
export { exportHf, type HfExportOptions, type HfExportResult } from './hf/export.js';
export { toHfModel, HF_ARCHITECTURES } from './hf/convert.js';
