// Quantized output tensors on a GPU (the CUDA executor's counterpart of quant.h). Per unit, each stretch of a
// quantized tensor it holds (a QuantSeg) is computed in chunks of whole block rows: the logical source's spans
// copied into pinned staging, to the device, cast to f32 by the executor's gather kernels into a scratch buffer,
// then one kernel per chunk runs amax → scale → code → int4 pack (quant_core.h, the code the CPU runs) and writes
// the segment's bytes into the unit's device output window. A block row too large for the buffers is computed
// on the CPU (quant.h) and copied in.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "../plan.h"

namespace mcore::cuda {

struct QuantSeg {
  int quant;          // index in Plan::quants
  uint64_t b0, b1;    // bytes of the quantized tensor
  uint64_t outOff;    // where byte b0 goes in the unit's device window
};

/** Pinned staging, device staging and f32 scratch of one worker. */
class QuantBuffers {
 public:
  QuantBuffers(int gpu, uint64_t stageBytes, uint64_t scratchBytes);
  ~QuantBuffers();
  QuantBuffers(const QuantBuffers&) = delete;
  QuantBuffers& operator=(const QuantBuffers&) = delete;

  int gpu;
  uint64_t stageBytes, scratchBytes;
  uint8_t* hostStage = nullptr;
  uint8_t* devStage = nullptr;
  float* devScratch = nullptr;
  std::vector<uint8_t> hostFallback;
};

/** Scratch bytes that hold one block row of the plan's largest quantized source (0 without quantized tensors). */
uint64_t quantScratchBytes(const Plan& plan);

/** Enqueues segment `seg` on `stream`, writing into `devOut`; synchronises the stream between chunks (the staging
 *  buffers are reused). Throws NativeError (E_DEVICE on CUDA failures). */
void runQuantSegment(const Plan& plan, const QuantSeg& seg, QuantBuffers& buf, uint8_t* devOut, cudaStream_t stream, int sms);

}  // namespace mcore::cuda
