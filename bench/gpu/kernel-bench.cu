// Kernel throughput of the CUDA executor's gather/cast kernels (native/src/cuda/kernels.cuh) against a
// device-to-device copy measured in the same run: CUDA events, warm-up, median of repeats, random data
// (never zeros), bytes counted as read + written. Results are checked element by element on a sample against
// the host build of the same cast code, and the device-only cast fast paths are compared with the shared cast
// code on the device over all 2^32 input words (the program fails on any mismatch).
//   nvcc -O3 -arch=sm_90 -fmad=false -std=c++17 -Inative/src bench/gpu/kernel-bench.cu native/src/cuda/kernels.cu -o build-cuda/kernel-bench
//   build-cuda/kernel-bench [out.json]
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cuda/kernels.cuh"

namespace mcore {
float kF16Table[65536];  // the host side of cast_core.h's decodeAs<F16>
}

using namespace mcore;
using namespace mcore::cuda;

#define CK(x)                                                                                  \
  do {                                                                                         \
    cudaError_t e_ = (x);                                                                      \
    if (e_ != cudaSuccess) {                                                                   \
      std::fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_)); \
      std::exit(2);                                                                            \
    }                                                                                          \
  } while (0)

__global__ void fillRandom(uint32_t* p, size_t n, uint32_t seed) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    uint32_t x = static_cast<uint32_t>(i) * 0x9E3779B9u ^ seed;
    x ^= x >> 16;
    x *= 0x85EBCA6Bu;
    x ^= x >> 13;
    x *= 0xC2B2AE35u;
    x ^= x >> 16;
    // keep f32 words finite-ish mostly but let every bit pattern occur
    p[i] = x;
  }
}

#if MCORE_CUDA_HW_CASTS
// The device-only fast paths against the shared cast code, on the device, over every input word: all 2^32
// f16 pairs; for fp8, every f32 as element 0 and (through a bijection) as element 1.
__global__ void exhaustiveFastPaths(unsigned long long* bad, uint32_t* firstBad) {
  const Affine none;
  for (uint64_t i = blockIdx.x * static_cast<uint64_t>(blockDim.x) + threadIdx.x; i < (1ull << 32); i += static_cast<uint64_t>(gridDim.x) * blockDim.x) {
    const uint32_t w = static_cast<uint32_t>(i);
    const uint32_t h = f16x2ToBf16x2(w);
    const uint32_t hRef = convertValue<DType::F16, DType::BF16, false>(static_cast<uint16_t>(w), none) |
                          (static_cast<uint32_t>(convertValue<DType::F16, DType::BF16, false>(static_cast<uint16_t>(w >> 16), none)) << 16);
    if (h != hRef) {
      atomicAdd(&bad[0], 1ull);
      atomicCAS(&firstBad[0], 0u, w);
    }
    const uint32_t u1 = w * 0x9E3779B1u + 0x7F800001u;  // odd multiplier: a bijection of the 32-bit words
    const uint32_t e = f32x2ToE4m3x2(w, u1);
    const uint32_t eRef = convertValue<DType::F32, DType::F8E4M3FN, false>(w, none) |
                          (static_cast<uint32_t>(convertValue<DType::F32, DType::F8E4M3FN, false>(u1, none)) << 8);
    if (e != eRef) {
      atomicAdd(&bad[1], 1ull);
      atomicCAS(&firstBad[1], 0u, w);
    }
  }
}
#endif

template <class F>
double medianMs(F launch, int warm = 3, int reps = 15) {
  cudaEvent_t a, b;
  CK(cudaEventCreate(&a));
  CK(cudaEventCreate(&b));
  for (int i = 0; i < warm; i++) launch();
  CK(cudaGetLastError());
  CK(cudaDeviceSynchronize());
  std::vector<float> t;
  for (int i = 0; i < reps; i++) {
    CK(cudaEventRecord(a));
    launch();
    CK(cudaEventRecord(b));
    CK(cudaEventSynchronize(b));
    CK(cudaGetLastError());
    float ms = 0;
    CK(cudaEventElapsedTime(&ms, a, b));
    t.push_back(ms);
  }
  std::sort(t.begin(), t.end());
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  return t[t.size() / 2];
}

int blocksFor(int64_t items) { return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>((items + 255) / 256, 132 * 32))); }

struct Result {
  std::string name;
  double bytes, ms, gbps, ratio;
  long checked, mismatches;
};

template <typename ST, typename DT, DType S, DType D>
long check(const uint8_t* dSrc, const uint8_t* dDst, int64_t rows, int64_t cols, bool transposed, long samples) {
  // output [rows, cols]; source element of (i, j): contiguous i*cols+j, transposed j*rows+i
  std::vector<ST> src(static_cast<size_t>(rows * cols));
  std::vector<DT> dst(static_cast<size_t>(rows * cols));
  CK(cudaMemcpy(src.data(), dSrc, src.size() * sizeof(ST), cudaMemcpyDeviceToHost));
  CK(cudaMemcpy(dst.data(), dDst, dst.size() * sizeof(DT), cudaMemcpyDeviceToHost));
  long bad = 0;
  Affine none;
  for (long k = 0; k < samples; k++) {
    int64_t e = (static_cast<int64_t>(k) * 2654435761LL) % (rows * cols);
    int64_t i = e / cols, j = e % cols;
    ST v = src[static_cast<size_t>(transposed ? j * rows + i : e)];
    DT want;
    if constexpr (S == D) want = v;
    else want = convertValue<S, D, false>(v, none);
    if (dst[static_cast<size_t>(e)] != want) bad++;
  }
  return bad;
}

int main(int argc, char** argv) {
  for (uint32_t h = 0; h < 65536; h++) kF16Table[h] = f16ToFloatBits(static_cast<uint16_t>(h));
  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, 0));
  const size_t kBytes = 1ull << 30;  // 1 GiB buffers: far past L2
  uint8_t *a, *b;
  CK(cudaMalloc(&a, kBytes));
  CK(cudaMalloc(&b, kBytes));
  fillRandom<<<1024, 256>>>(reinterpret_cast<uint32_t*>(a), kBytes / 4, 12345u);
  fillRandom<<<1024, 256>>>(reinterpret_cast<uint32_t*>(b), kBytes / 4, 777u);
  CK(cudaGetLastError());
  CK(cudaDeviceSynchronize());
  std::vector<Result> results;

#if MCORE_CUDA_HW_CASTS
  {
    unsigned long long* dBad;
    uint32_t* dFirst;
    CK(cudaMalloc(&dBad, 2 * sizeof(unsigned long long)));
    CK(cudaMalloc(&dFirst, 2 * sizeof(uint32_t)));
    CK(cudaMemset(dBad, 0, 2 * sizeof(unsigned long long)));
    CK(cudaMemset(dFirst, 0, 2 * sizeof(uint32_t)));
    exhaustiveFastPaths<<<132 * 16, 256>>>(dBad, dFirst);
    CK(cudaGetLastError());
    CK(cudaDeviceSynchronize());
    unsigned long long hBad[2];
    uint32_t hFirst[2];
    CK(cudaMemcpy(hBad, dBad, sizeof hBad, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(hFirst, dFirst, sizeof hFirst, cudaMemcpyDeviceToHost));
    std::printf("exhaustive fast paths vs shared cast code (2^32 words each): f16x2->bf16x2 %llu mismatches (first 0x%08x), f32x2->e4m3x2 %llu mismatches (first 0x%08x)\n",
                hBad[0], hFirst[0], hBad[1], hFirst[1]);
    results.push_back({"exhaustive-f16x2-to-bf16x2", 0, 0, 0, 0, 1l << 32, static_cast<long>(hBad[0])});
    results.push_back({"exhaustive-f32x2-to-e4m3x2", 0, 0, 0, 0, 1l << 32, static_cast<long>(hBad[1])});
  }
#endif

  // ceiling: a device-to-device copy of 512 MiB
  const size_t copyBytes = 512ull << 20;
  double copyMs = medianMs([&] { CK(cudaMemcpyAsync(b, a, copyBytes, cudaMemcpyDeviceToDevice)); });
  double copyGbps = 2.0 * copyBytes / (copyMs * 1e6);
  results.push_back({"d2d-copy-512MiB", 2.0 * copyBytes, copyMs, copyGbps, 1.0, 0, 0});

  auto rows1 = [&](const KernelSet* ks, int64_t n, int ssz, int dsz) {
    RowsArgs r{};
    r.src = a;
    r.dst = b;
    r.nrows = 1;
    r.cols = n;
    r.head = 0;
    r.nvec = n / ks->vec;
    int64_t perRow = r.nvec + (n - r.nvec * ks->vec);
    double ms = medianMs([&] { ks->rows(r, blocksFor(perRow), nullptr); });
    (void)ssz;
    (void)dsz;
    return ms;
  };
  auto addRows = [&](const char* name, DType S, DType D, int ssz, int dsz, long (*chk)(const uint8_t*, const uint8_t*, int64_t, int64_t, bool, long)) {
    const KernelSet* ks = selectKernels(S, D, false);
    int64_t n = static_cast<int64_t>((256ull << 20) / std::max(ssz, dsz));  // the wider side 256 MiB
    double ms = rows1(ks, n, ssz, dsz);
    double bytes = static_cast<double>(n) * (ssz + dsz);
    long bad = chk(a, b, 1, n, false, 1 << 20);
    results.push_back({name, bytes, ms, bytes / (ms * 1e6), bytes / (ms * 1e6) / copyGbps, 1 << 20, bad});
  };
  addRows("contig-f32-to-bf16", DType::F32, DType::BF16, 4, 2, &check<uint32_t, uint16_t, DType::F32, DType::BF16>);
  addRows("contig-bf16-to-f32", DType::BF16, DType::F32, 2, 4, &check<uint16_t, uint32_t, DType::BF16, DType::F32>);
  addRows("contig-f16-to-bf16", DType::F16, DType::BF16, 2, 2, &check<uint16_t, uint16_t, DType::F16, DType::BF16>);
  addRows("contig-f32-to-fp8e4m3", DType::F32, DType::F8E4M3FN, 4, 1, &check<uint32_t, uint8_t, DType::F32, DType::F8E4M3FN>);
  addRows("contig-bf16-copy", DType::BF16, DType::BF16, 2, 2, &check<uint16_t, uint16_t, DType::BF16, DType::BF16>);

  auto addTile = [&](const char* name, DType S, DType D, int ssz, int dsz, int64_t R, int64_t C,
                     long (*chk)(const uint8_t*, const uint8_t*, int64_t, int64_t, bool, long)) {
    // output [R, C] row-major from a source [C, R] row-major (a transpose)
    const KernelSet* ks = selectKernels(S, D, false);
    TileArgs t{};
    t.src = a;
    t.dst = b;
    t.nrows = R;
    t.cols = C;
    t.ssCol = R;
    t.dsCol = 1;
    t.rows.rank = 1;
    t.rows.shape[0] = R;
    t.rows.ss[0] = 1;
    t.rows.ds[0] = C;
    dim3 grid(static_cast<unsigned>((C + kTile - 1) / kTile), static_cast<unsigned>(std::min<int64_t>((R + kTile - 1) / kTile, 65535)));
    double ms = medianMs([&] { ks->tile(t, grid, nullptr); });
    double bytes = static_cast<double>(R * C) * (ssz + dsz);
    long bad = chk(a, b, R, C, true, 1 << 20);
    results.push_back({name, bytes, ms, bytes / (ms * 1e6), bytes / (ms * 1e6) / copyGbps, 1 << 20, bad});
  };
  addTile("transpose-bf16-16384x8192", DType::BF16, DType::BF16, 2, 2, 16384, 8192, &check<uint16_t, uint16_t, DType::BF16, DType::BF16>);
  addTile("transpose-f32-to-bf16-8192x8192", DType::F32, DType::BF16, 4, 2, 8192, 8192, &check<uint32_t, uint16_t, DType::F32, DType::BF16>);
  addTile("transpose-f16-to-bf16-16384x8192", DType::F16, DType::BF16, 2, 2, 16384, 8192, &check<uint16_t, uint16_t, DType::F16, DType::BF16>);
  addTile("transpose-f32-8192x8192", DType::F32, DType::F32, 4, 4, 8192, 8192, &check<uint32_t, uint32_t, DType::F32, DType::F32>);

  std::printf("GPU: %s, %d SMs, L2 %d MiB\n", prop.name, prop.multiProcessorCount, prop.l2CacheSize >> 20);
  std::printf("%-34s %10s %10s %8s %9s\n", "kernel", "ms", "GB/s", "vs copy", "mismatch");
  for (const Result& r : results) std::printf("%-34s %10.3f %10.1f %7.1f%% %9ld\n", r.name.c_str(), r.ms, r.gbps, 100 * r.ratio, r.mismatches);
  if (argc > 1) {
    FILE* f = std::fopen(argv[1], "w");
    std::fprintf(f, "{\"gpu\": \"%s\", \"results\": [\n", prop.name);
    for (size_t i = 0; i < results.size(); i++) {
      const Result& r = results[i];
      std::fprintf(f, " {\"name\": \"%s\", \"bytes\": %.0f, \"median_ms\": %.4f, \"gbps\": %.1f, \"ratio_vs_copy\": %.3f, \"checked\": %ld, \"mismatches\": %ld}%s\n",
                   r.name.c_str(), r.bytes, r.ms, r.gbps, r.ratio, r.checked, r.mismatches, i + 1 < results.size() ? "," : "");
    }
    std::fprintf(f, "]}\n");
    std::fclose(f);
  }
  long bad = 0;
  for (const Result& r : results) bad += r.mismatches;
  return bad ? 1 : 0;
}
