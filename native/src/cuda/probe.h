// What the CUDA runtime sees on this machine. Compiled only when the addon is built with CUDA
// (MCORE_WITH_CUDA); the CUDA executor will live beside it in native/src/cuda/.
#pragma once
#include <string>

namespace mcore::cuda {

struct Probe {
  int devices = 0;
  std::string error;  // why there are none (no driver, no device, ...), empty when devices > 0
  int runtimeVersion = 0;
};

/** Asks the (statically linked) CUDA runtime once; safe on machines without a driver. */
Probe probe();

/** The architectures this addon carries device code for (CMakeLists.txt's CMAKE_CUDA_ARCHITECTURES). */
const char* builtArchitectures();

/**
 * Empty when this build has code that runs on GPU `gpu` (machine code for its architecture or PTX it can JIT),
 * else why not, naming the GPU's compute capability.
 */
std::string unsupportedDevice(int gpu);

}  // namespace mcore::cuda
