// Running a validated plan's data sections on CUDA GPUs (native/src/cuda/device_executor.cu). Plain C++ so that
// executor.cc can call it; without CUDA (MCORE_WITH_CUDA unset) cuda_executor_stub.cc answers E_DEVICE.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "plan.h"

namespace mcore {

struct DeviceOptions {
  std::vector<int> gpus;                 // CUDA device ordinals; units of every output are shared among them
  uint64_t memoryBytes = 2ull << 30;     // device memory each GPU may use for staging (and as much pinned host memory)
  unsigned streamsPerGpu = 6;            // worker threads per GPU, each with its own stream and buffers
  uint64_t hostBufferBytes = 1ull << 30; // pinned host buffers of all GPUs together (the executor's maxBufferBytes)
};

struct DeviceHooks {
  std::function<bool()> stopped;                // true once cancelled or failed elsewhere
  std::function<void(uint64_t bytes)> written;  // bytes of output written
};

/** Throws E_DEVICE unless every listed GPU exists and the addon was built with CUDA. */
void checkDevices(const std::vector<int>& gpus);

/**
 * Writes every output's data section (headers already written, `fds` open for writing) through the GPUs:
 * source spans copied from the mappings into pinned staging, to the device, gathered and cast there, back to
 * pinned memory and pwrite'd; then each output is fsync'ed. Throws NativeError (E_DEVICE for CUDA failures,
 * E_IO, E_FORMAT).
 */
void executeOnDevices(const Plan& plan, const std::vector<int>& fds, const DeviceOptions& opts, const DeviceHooks& hooks);

}  // namespace mcore
