// Building TensorRT-LLM engines (runs TensorRT-LLM 1.x's trtllm-build on a checkpoint directory): the entry
// point for the rest of the library. Inside: options.ts (the option table, validation, argv), build.ts (the
// child process, staging, checks), dirs.ts (checkpoint/engine directory checks), locate.ts, log.ts,
// run-child.ts, megatron.ts (Megatron's build_and_save_engine names and defaults).
export {
  BUILD_FLAGS, MEGATRON_BUILD_DEFAULTS, buildOptionsToArgv, validateBuildOptions, withMegatronDefaults,
  type BuildFlag, type BuildOptionKey, type BuildTarget, type EngineBuildOptions, type GemmPluginDtype, type PluginDtype,
} from './options.js';
export { buildEngine, type BuildEngineControl, type EngineBuildProgress, type EngineBuildResult, type EngineLogLine } from './build.js';
export type { EngineSummary } from './dirs.js';
export type { LogLevel } from './log.js';
export type { OutputStream } from './run-child.js';
export { INSTALL_HINT, TRTLLM_BUILD_ENV, locateTrtllmBuild } from './locate.js';
export { buildAndSaveEngine, helperBuildAndSaveEngine, megatronBuildOptions, type HelperBuildInput, type MegatronBuildArgs } from './megatron.js';
