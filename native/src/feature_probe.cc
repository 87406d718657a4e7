#include "feature_probe.h"

#include <mutex>
#include <string>
#include <thread>

#ifdef MCORE_WITH_CUDA
#include "cuda/probe.h"
#endif

namespace mcore {

#ifndef MCORE_VERSION
#define MCORE_VERSION "0.1.0"
#endif
const char* const kVersion = MCORE_VERSION;

Napi::Value Features(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object f = Napi::Object::New(env);
  f.Set("version", Napi::String::New(env, kVersion));
  f.Set("threads", Napi::Number::New(env, std::max(1u, std::thread::hardware_concurrency())));
#ifdef MCORE_WITH_CUDA
  static std::once_flag once;
  static cuda::Probe probe;
  std::call_once(once, [] { probe = cuda::probe(); });
  f.Set("cuda", Napi::Boolean::New(env, true));
  f.Set("cudaDevices", Napi::Number::New(env, probe.devices));
  f.Set("cudaRuntimeVersion", Napi::Number::New(env, probe.runtimeVersion));
  f.Set("cudaArchitectures", Napi::String::New(env, cuda::builtArchitectures()));
  if (!probe.error.empty()) f.Set("cudaError", Napi::String::New(env, probe.error));
#else
  f.Set("cuda", Napi::Boolean::New(env, false));
  f.Set("cudaDevices", Napi::Number::New(env, 0));
  f.Set("cudaError", Napi::String::New(env, "built without CUDA"));
#endif
  return f;
}

}  // namespace mcore
