#include "quant_device.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "../native_error.h"
#include "../quant.h"
#include "../quant_core.h"
#include "../window.h"
#include "../gather.h"
#include "kernels.cuh"
#include "piece_launch.cuh"

namespace mcore::cuda {

namespace {

[[noreturn]] void cudaFail(const char* what, cudaError_t err, int gpu) {
  throw NativeError("E_DEVICE", std::string(what) + " failed on GPU " + std::to_string(gpu) + ": " + cudaGetErrorName(err) + ": " + cudaGetErrorString(err));
}
#define QCK(call, gpu)                                \
  do {                                                \
    cudaError_t e_ = (call);                          \
    if (e_ != cudaSuccess) cudaFail(#call, e_, gpu);  \
  } while (0)

constexpr int kThreads = 256;
constexpr uint64_t kAlign = 16;
constexpr int64_t kMaxGridY = 65535;

struct QuantArgs {
  const float* scratch;   // rows [row0, ...) of the logical source, `cols` floats each
  uint8_t* dst;           // byte b0 of the segment
  int64_t row0;           // first logical row in scratch
  int64_t br0;            // first block row of the launch
  uint64_t b0, b1;        // the segment's bytes of the tensor
  uint64_t granule;
  QuantSpec spec;
  bool scales;
};

// One CUDA block per quantization block: the block's amax (fmaxf is exact, so the reduction order cannot change
// it), its scale, then its codes (or its scale bytes) where they fall inside the segment.
__global__ void __launch_bounds__(kThreads) quantKernel(QuantArgs a) {
  const QuantSpec& sp = a.spec;
  const int64_t bc = blockIdx.x, br = a.br0 + blockIdx.y;
  const int64_t r0 = br * sp.blockRows, nr = min(sp.blockRows, sp.rows - r0);
  const int64_t c0 = bc * sp.blockCols, bw = min(sp.cols, c0 + sp.blockCols) - c0;
  const float* w = a.scratch + (r0 - a.row0) * sp.cols + c0;
  float m = 0.0f;
  for (int64_t i = threadIdx.x; i < nr * bw; i += kThreads) m = quantAbsMax(m, w[(i / bw) * sp.cols + i % bw]);
  __shared__ float red[kThreads];
  red[threadIdx.x] = m;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half >>= 1) {
    if (threadIdx.x < half) red[threadIdx.x] = fmaxf(red[threadIdx.x], red[threadIdx.x + half]);
    __syncthreads();
  }
  const float s = quantScale(red[0], sp.kind, sp.scaleDtype);
  if (a.scales) {
    if (threadIdx.x != 0) return;
    uint8_t bytes[4];
    storeScale(s, sp.scaleDtype, bytes);
    const int size = sp.scaleDtype == DType::F32 ? 4 : 2;
    const uint64_t at = static_cast<uint64_t>(br) * a.granule + static_cast<uint64_t>(bc * size);
    for (int k = 0; k < size; k++)
      if (at + k >= a.b0 && at + k < a.b1) a.dst[at + k - a.b0] = bytes[k];
    return;
  }
  const int64_t rowBytes = sp.valueRowBytes();
  if (sp.kind == QuantKind::Int4) {
    const int64_t pairs = bw / 2;
    for (int64_t i = threadIdx.x; i < nr * pairs; i += kThreads) {
      const int64_t r = i / pairs, c = 2 * (i % pairs);
      const uint64_t at = static_cast<uint64_t>((r0 + r) * rowBytes + (c0 + c) / 2);
      if (at < a.b0 || at >= a.b1) continue;
      const float* x = w + r * sp.cols + c;
      a.dst[at - a.b0] = static_cast<uint8_t>(quantCode(x[0], s, sp.kind) | (quantCode(x[1], s, sp.kind) << 4));
    }
  } else {
    for (int64_t i = threadIdx.x; i < nr * bw; i += kThreads) {
      const int64_t r = i / bw, c = i % bw;
      const uint64_t at = static_cast<uint64_t>((r0 + r) * rowBytes + c0 + c);
      if (at < a.b0 || at >= a.b1) continue;
      a.dst[at - a.b0] = quantCode(w[r * sp.cols + c], s, sp.kind);
    }
  }
}

struct Part {
  int piece;
  int64_t lo, hi;
  int64_t minEl;      // first source element staged (relative to srcBase)
  uint64_t bytes;     // staged bytes
  uint64_t stageOff;
};

// The parts of the source's pieces that write logical elements [e0, e1), with their staged spans.
std::vector<Part> partsOf(const Plan& plan, const Tensor& src, int64_t e0, int64_t e1, uint64_t& stageBytes) {
  std::vector<Part> parts;
  stageBytes = 0;
  forEachSourcePart(plan, src, e0, e1, [&](int pi, int64_t lo, int64_t hi) {
    const Piece& pc = plan.pieces[pi];
    SourceSpan span = sourceSpan(pc, lo, hi);
    stageBytes = (stageBytes + kAlign - 1) / kAlign * kAlign;
    parts.push_back({pi, lo, hi, static_cast<int64_t>(span.begin) / pc.srcSize, span.length, stageBytes});
    stageBytes += span.length;
  });
  return parts;
}

}  // namespace

QuantBuffers::QuantBuffers(int g, uint64_t stage, uint64_t scratch) : gpu(g), stageBytes(stage), scratchBytes(scratch) {
  QCK(cudaSetDevice(g), g);
  QCK(cudaMallocHost(&hostStage, stageBytes), g);
  QCK(cudaMalloc(&devStage, stageBytes), g);
  QCK(cudaMalloc(&devScratch, scratchBytes), g);
}

QuantBuffers::~QuantBuffers() {  // errors while releasing are ignored, as for the executor's slots
  cudaSetDevice(gpu);
  if (devScratch) cudaFree(devScratch);
  if (devStage) cudaFree(devStage);
  if (hostStage) cudaFreeHost(hostStage);
}

uint64_t quantScratchBytes(const Plan& plan) {
  uint64_t need = 0;
  for (const Quant& q : plan.quants) need = std::max<uint64_t>(need, static_cast<uint64_t>(q.spec.blockRows * q.spec.cols) * sizeof(float));
  return need;
}

void runQuantSegment(const Plan& plan, const QuantSeg& seg, QuantBuffers& buf, uint8_t* devOut, cudaStream_t stream, int sms) {
  const Quant& q = plan.quants[seg.quant];
  const QuantSpec& sp = q.spec;
  const Tensor& src = plan.tensors[q.source];
  const int g = buf.gpu;
  const int64_t lastBr = static_cast<int64_t>((seg.b1 - 1) / q.granule);
  int64_t br = static_cast<int64_t>(seg.b0 / q.granule);
  const int64_t rowsFit = static_cast<int64_t>(buf.scratchBytes / (static_cast<uint64_t>(sp.cols) * sizeof(float)));
  while (br <= lastBr) {
    // as many whole block rows as the scratch and the staging hold (at least one, else the CPU computes it)
    int64_t n = std::min<int64_t>({lastBr - br + 1, std::max<int64_t>(1, rowsFit / sp.blockRows), kMaxGridY});
    std::vector<Part> parts;
    uint64_t stage = 0;
    for (;; n = (n + 1) / 2) {
      const int64_t r0 = br * sp.blockRows, r1 = std::min(sp.rows, (br + n) * sp.blockRows);
      parts = partsOf(plan, src, r0 * sp.cols, r1 * sp.cols, stage);
      if ((stage <= buf.stageBytes && static_cast<uint64_t>((r1 - r0) * sp.cols) * sizeof(float) <= buf.scratchBytes) || n == 1) break;
    }
    const int64_t r0 = br * sp.blockRows, r1 = std::min(sp.rows, (br + n) * sp.blockRows);
    const uint64_t cb0 = std::max(seg.b0, static_cast<uint64_t>(br) * q.granule);
    const uint64_t cb1 = std::min(seg.b1, static_cast<uint64_t>(br + n) * q.granule);
    QCK(cudaStreamSynchronize(stream), g);  // the previous chunk's copy out of the staging buffer is done
    if (stage > buf.stageBytes || static_cast<uint64_t>((r1 - r0) * sp.cols) * sizeof(float) > buf.scratchBytes) {
      buf.hostFallback.resize(cb1 - cb0);
      quantizeRange(plan, q, cb0, cb1, buf.hostFallback.data(), nullptr);
      QCK(cudaMemcpyAsync(devOut + seg.outOff + (cb0 - seg.b0), buf.hostFallback.data(), cb1 - cb0, cudaMemcpyHostToDevice, stream), g);
      QCK(cudaStreamSynchronize(stream), g);
      br += n;
      continue;
    }
    for (const Part& p : parts) {
      const Piece& pc = plan.pieces[p.piece];
      if (pc.source < 0) {
        std::memset(buf.hostStage + p.stageOff, 0, p.bytes);
        continue;
      }
      const uint8_t* from = pc.srcBase + p.minEl * pc.srcSize;
      std::memcpy(buf.hostStage + p.stageOff, from, p.bytes);
      // staged: the mapped pages are not needed any more (a later read faults them in again from the page cache)
      const Source& so = plan.sources[pc.source];
      if (!so.memory && so.file) so.file->advise(static_cast<uint64_t>(from - so.file->data()), p.bytes, MappedFile::Advice::DontNeed);
    }
    QCK(cudaMemcpyAsync(buf.devStage, buf.hostStage, stage, cudaMemcpyHostToDevice, stream), g);
    for (const Part& p : parts) {
      const Piece& pc = plan.pieces[p.piece];
      const KernelSet* ks = selectKernels(pc.srcDtype, DType::F32, pc.affine.any());
      if (!ks) throw NativeError("E_UNSUPPORTED", std::string("no GPU conversion from ") + dtypeName(pc.srcDtype) + " to F32 (quantization source of " + src.name + ")");
      GenericArgs a = genericArgsFor(pc, p.lo, p.hi, static_cast<int64_t>(p.stageOff) - p.minEl * pc.srcSize, (pc.dstOffset - r0 * sp.cols) * static_cast<int64_t>(sizeof(float)));
      a.src = buf.devStage;
      a.dst = reinterpret_cast<uint8_t*>(buf.devScratch);
      ks->generic(a, blocksFor(p.hi - p.lo, kThreads, sms), stream);
    }
    QuantArgs qa{};
    qa.scratch = buf.devScratch;
    qa.dst = devOut + seg.outOff + (cb0 - seg.b0);
    qa.row0 = r0;
    qa.br0 = br;
    qa.b0 = cb0;
    qa.b1 = cb1;
    qa.granule = q.granule;
    qa.spec = sp;
    qa.scales = q.scales;
    quantKernel<<<dim3(static_cast<unsigned>(sp.blocksPerRow()), static_cast<unsigned>(n)), kThreads, 0, stream>>>(qa);
    QCK(cudaGetLastError(), g);
    br += n;
  }
}

}  // namespace mcore::cuda
