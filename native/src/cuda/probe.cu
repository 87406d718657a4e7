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

}  // namespace mcore::cuda
