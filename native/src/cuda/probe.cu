#include <cuda_runtime.h>

#include "probe.h"

namespace mcore::cuda {

Probe probe() {
  Probe p;
  cudaRuntimeGetVersion(&p.runtimeVersion);
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    p.error = std::string(cudaGetErrorName(err)) + ": " + cudaGetErrorString(err);
    cudaGetLastError();  // clear the sticky-free error so later calls start clean
    return p;
  }
  p.devices = count;
  if (count == 0) p.error = "no CUDA device found";
  return p;
}

#ifndef MCORE_CUDA_ARCHS
#define MCORE_CUDA_ARCHS "unknown"
#endif
const char* builtArchitectures() { return MCORE_CUDA_ARCHS; }

namespace {
// compiled like every kernel of the addon: the runtime finds an image for it exactly when it finds one for them
__global__ void imageProbe() {}
}  // namespace

std::string unsupportedDevice(int gpu) {
  cudaFuncAttributes attr;
  int previous = 0;
  cudaGetDevice(&previous);
  cudaError_t err = cudaSetDevice(gpu);
  if (err == cudaSuccess) err = cudaFuncGetAttributes(&attr, imageProbe);
  cudaSetDevice(previous);
  if (err == cudaSuccess) return {};
  cudaGetLastError();
  int major = 0, minor = 0;
  cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, gpu);
  cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, gpu);
  cudaDeviceProp prop;
  const std::string name = cudaGetDeviceProperties(&prop, gpu) == cudaSuccess ? std::string(prop.name) : "GPU";
  cudaGetLastError();
  return "GPU " + std::to_string(gpu) + " (" + name + ", compute capability " + std::to_string(major) + "." + std::to_string(minor) +
         ") cannot run this build of the addon (CUDA code for " + MCORE_CUDA_ARCHS + "; " + cudaGetErrorName(err) +
         "): rebuild it for this GPU with `npx cmake-js configure --out build --CDCMAKE_CUDA_ARCHITECTURES=" + std::to_string(major) +
         std::to_string(minor) + " && npx cmake-js build --out build` in the package directory";
}

}  // namespace mcore::cuda
