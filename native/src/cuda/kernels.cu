// Instantiates the kernels for every supported dtype pair (as selectRun on the CPU).
#include "kernels.cuh"

namespace mcore::cuda {

namespace {

template <class Op>
void launchRows(const RowsArgs& a, int blocks, cudaStream_t s) { rowsKernel<Op><<<blocks, 256, 0, s>>>(a); }
template <class Op>
void launchTile(const TileArgs& a, dim3 grid, cudaStream_t s) { tileKernel<Op><<<grid, dim3(kTileLanes, kTileRowsPerPass), 0, s>>>(a); }
template <class Op>
void launchGeneric(const GenericArgs& a, int blocks, cudaStream_t s) { genericKernel<Op><<<blocks, 256, 0, s>>>(a); }

template <class Op>
const KernelSet* setFor() {
  static const KernelSet k{&launchRows<Op>, &launchTile<Op>, &launchGeneric<Op>, Vec<Op>::V};
  return &k;
}

template <DType S, bool Aff>
const KernelSet* pickDst(DType d) {
  switch (d) {
    case DType::F32: return setFor<CastOp<S, DType::F32, Aff>>();
    case DType::F16: return setFor<CastOp<S, DType::F16, Aff>>();
    case DType::BF16: return setFor<CastOp<S, DType::BF16, Aff>>();
    case DType::F8E4M3FN: return setFor<CastOp<S, DType::F8E4M3FN, Aff>>();
    case DType::F8E5M2: return setFor<CastOp<S, DType::F8E5M2, Aff>>();
    default: return nullptr;
  }
}

template <bool Aff>
const KernelSet* pickSrc(DType s, DType d) {
  switch (s) {
    case DType::F32: return pickDst<DType::F32, Aff>(d);
    case DType::F16: return pickDst<DType::F16, Aff>(d);
    case DType::BF16: return pickDst<DType::BF16, Aff>(d);
    case DType::F8E4M3FN: return pickDst<DType::F8E4M3FN, Aff>(d);
    case DType::F8E5M2: return pickDst<DType::F8E5M2, Aff>(d);
    default: return nullptr;
  }
}

}  // namespace

const KernelSet* selectKernels(DType src, DType dst, bool affine) {
  if (src == dst && !affine) {
    switch (itemsize(src)) {
      case 1: return setFor<CopyOp<uint8_t>>();
      case 2: return setFor<CopyOp<uint16_t>>();
      case 4: return setFor<CopyOp<uint32_t>>();
      case 8: return setFor<CopyOp<uint64_t>>();
    }
    return nullptr;
  }
  if (!isFloat(src) || !isFloat(dst)) return nullptr;
  return affine ? pickSrc<true>(src, dst) : pickSrc<false>(src, dst);
}

}  // namespace mcore::cuda
