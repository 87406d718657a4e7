// Public API of mcore-export: everything a caller can name. Every type that appears in an exported signature is
// exported too (test/package/api.test.ts checks the README's list against this file).
export { ExportError, isExportError, type ErrorCode } from './errors.js';
// Checkpoints and tensors
export type { Checkpoint, CheckpointFormat, ModelType, TransformerConfig, TrainingLayout } from './megatron/types.js';
export { MODEL_TYPES } from './megatron/types.js';
export type { Args } from './megatron/config.js';
export { openCheckpoint, type OpenCheckpointOptions } from './megatron/open.js';
export type { Tensor, Block } from './tensor/tensor.js';
export type { View, Storage } from './tensor/view.js';
export { ALL_DTYPES, type DType, type DTypeName } from './tensor/dtype.js';
// Copy plans and their executor
export type { CopyPlan, PlanFile, PlanTensor, PlanPiece, Affine } from './plan/plan.js';
export { executePlan, type ExecutePlanOptions, type ExecutePlanResult, type ExecuteProgress } from './plan/execute.js';
export type { Device } from './plan/device.js';
export type { PlanExecutor, ExecuteOptions, ExecuteResult } from './export/executor.js';
export type { Progress } from './export/progress.js';
export type { ExportSummary } from './export/summary.js';
export type { PyJson, PyFloat } from './export/pyjson.js';
// The native addon
export { features, type NativeFeatures } from './native.js';
// TensorRT-LLM
export { exportTrtllm, helperOptionsFor, type ExportTrtllmOptions, type ExportTrtllmResult } from './trtllm/export.js';
export { saveTrtllmCheckpoint, type SaveTrtllmOptions, type SaveTrtllmResult } from './trtllm/save.js';
export { TRTLLMHelper, type TRTLLMHelperOptions, type ExportConfig, type GetWeightsOptions, type TrtllmRankWeights, type TrtllmPretrainedConfig } from './trtllm/helper.js';
export type { RankMapping } from './trtllm/mapping.js';
export type { ParallelState } from './trtllm/distributed.js';
export { TRTLLMLayers, type TRTLLMLayer } from './trtllm/layers.js';
export { DEFAULT_CONVERSION_DICT, type ConversionDict } from './trtllm/conversion-dict.js';
export { verifyTrtllmDir, type VerifyResult, type VerifyProblem } from './trtllm/verify.js';
export { TRT_DTYPES, type TrtDType } from './trtllm/config.js';
// TensorRT-LLM engines (trtllm-build)
export { buildEngine, type BuildEngineControl, type EngineBuildResult, type EngineBuildProgress, type EngineLogLine, type EngineBuildOptions, type EngineSummary, type LogLevel, type OutputStream, type HelperBuildInput, type MegatronBuildArgs } from './engine/index.js';
export { decodeTeExtraState, type Fp8ScalingState } from './megatron/te-extra-state.js';
// Hugging Face
export { exportHf, type HfExportOptions, type HfExportResult, type HfProgress } from './hf/export.js';
export { toHfModel, HF_ARCHITECTURES } from './hf/convert.js';
export type { HfModel, HfTensor, HfConvertInput, HfDType, HfRule, HfRuleContext } from './hf/types.js';
