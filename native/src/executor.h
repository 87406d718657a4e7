// `execute(loweredPlan, {threads, onProgress})` → `{promise, cancel}`: runs a validated plan on a private
// std::thread pool (the libuv thread that hosts the AsyncWorker only waits), writes each output at its
// precomputed offsets through per-thread bounded buffers, reports progress through a ThreadSafeFunction
// about ten times a second and stops between work units once `cancel()` is called (rejecting with E_ABORTED).
#pragma once
#include <napi.h>

namespace mcore {

Napi::Value Execute(const Napi::CallbackInfo& info);

/** Bytes in one work unit (the size of each thread's buffer). */
constexpr uint64_t kUnitBytes = 8ull << 20;

}  // namespace mcore
