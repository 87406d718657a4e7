// The device executor of an addon built without CUDA: every request for a GPU is a coded E_DEVICE error.
#ifndef MCORE_WITH_CUDA
#include "cuda_executor.h"
#include "native_error.h"

namespace mcore {

void checkDevices(const std::vector<int>&) {
  throw NativeError("E_DEVICE", "this build of the native addon has no CUDA support (rebuild with nvcc: npm run build:native)");
}

void executeOnDevices(const Plan&, const std::vector<int>&, const DeviceOptions&, const DeviceHooks&) { checkDevices({}); }

}  // namespace mcore
#endif
