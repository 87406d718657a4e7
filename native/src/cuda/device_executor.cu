// The CUDA executor: each output's data section is cut into windows (units); a unit lists, per piece range it
// holds, the span of source bytes the range reads. Worker threads (several per GPU, each with its own stream,
// pinned staging and device buffers) take units from one shared queue and run
//   memcpy spans from the mappings → pinned staging → H2D → gather/cast kernels → D2H → pinned → pwrite,
// so with N threads a GPU has up to N units in different stages at once (disk, PCIe each way, kernels, disk).
// A unit whose spans cannot fit the staging buffer even when cut down (a huge transposed view) is gathered on
// the CPU with the same code as the CPU executor.
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../cuda_executor.h"
#include "../gather.h"
#include "../native_error.h"
#include "../window.h"
#include "kernels.cuh"
#include "piece_launch.cuh"
#include "probe.h"
#include "quant_device.h"
#include "../quant.h"
#include "../units.h"
#include "../write_all.h"

namespace mcore {

namespace {

using cuda::GenericArgs;
using cuda::KernelSet;
using cuda::RowMap;
using cuda::RowsArgs;
using cuda::TileArgs;
using cuda::blocksFor;
using cuda::genericArgsFor;

[[noreturn]] void cudaFail(const char* what, cudaError_t err, int gpu) {
  throw NativeError("E_DEVICE", std::string(what) + " failed on GPU " + std::to_string(gpu) + ": " + cudaGetErrorName(err) + ": " +
                                    cudaGetErrorString(err));
}
#define CK(call, gpu)                          \
  do {                                         \
    cudaError_t e_ = (call);                   \
    if (e_ != cudaSuccess) cudaFail(#call, e_, gpu); \
  } while (0)

constexpr uint64_t kWindowBytes = 8ull << 20;  // output bytes per unit at most (pinned buffers are costly to allocate)
constexpr uint64_t kMinWindowBytes = 1ull << 20;
constexpr uint64_t kAlign = 16;
// quantized tensors: each worker's source staging and f32 scratch (more when one block row needs it)
constexpr uint64_t kQuantStageBytes = 16ull << 20;
constexpr uint64_t kQuantScratchBytes = 32ull << 20;

enum class Launch { Rows, Tile, Generic };

struct Kernel {
  Launch kind;
  const KernelSet* ks;  // the launchers for the range's dtypes
  RowsArgs rows;        // Rows
  TileArgs tile;        // Tile
  GenericArgs generic;  // Generic
};

struct Range {
  int piece;
  int64_t lo, hi;
  int64_t spanMinEl, spanMaxEl;  // source elements read (relative to the piece's srcBase)
  uint64_t stageOff = 0;
};

struct Unit : UnitSpan {  // the file byte range, cut as the CPU executor cuts it (units.h)
  uint64_t pad;         // begin % 16: the window sits at devOut + pad so device addresses keep the file's alignment
  uint64_t stageBytes = 0;
  bool hostGather = false;
  std::vector<Range> ranges;
  std::vector<Kernel> kernels;  // built once the unit is final
  std::vector<cuda::QuantSeg> quantSegs;  // stretches of quantized tensors (quant_device.h)
};


class Planner {
 public:
  Planner(const Plan& plan, uint64_t window, uint64_t stageCap) : plan_(plan), window_(window), stageCap_(stageCap) {}

  std::vector<Unit> units() {
    std::vector<Unit> out;
    for (size_t o = 0; o < plan_.outputs.size(); o++) {
      const Output& f = plan_.outputs[o];
      uint64_t at = f.header.size();
      while (at < f.size) {
        uint64_t end = cutUnitEnd(plan_, f, at, std::min(f.size, at + window_));
        Unit u = collect(static_cast<int>(o), at, end);
        while (u.stageBytes > stageCap_ && end - at > kMinWindowBytes) {
          end = cutUnitEnd(plan_, f, at, at + (end - at) / 2);
          u = collect(static_cast<int>(o), at, end);
        }
        if (u.stageBytes > stageCap_) u.hostGather = true;
        else buildKernels(u);
        at = end;
        out.push_back(std::move(u));
      }
    }
    return out;
  }

 private:
  // the unit's piece ranges with the source span each reads, and its stretches of quantized tensors
  Unit collect(int o, uint64_t begin, uint64_t end) const {
    Unit u{{o, begin, end}, begin % kAlign};
    forEachPart(
        plan_, u,
        [&](const Tensor& t, int64_t, int64_t) {
          if (t.quant < 0) return;
          uint64_t b = std::max(begin, t.byteStart), e = std::min(end, t.byteStart + t.byteLength);
          u.quantSegs.push_back({t.quant, b - t.byteStart, e - t.byteStart, u.pad + (b - begin)});
        },
        [&](int pi, int64_t lo, int64_t hi) {
          if (hi <= lo) return;
          const Piece& pc = plan_.pieces[pi];
          Range r{pi, lo, hi, 0, 0};
          sourceElementRange(pc, lo, hi, r.spanMinEl, r.spanMaxEl);
          u.stageBytes = (u.stageBytes + kAlign - 1) / kAlign * kAlign + kAlign;  // room to shift for alignment
          u.stageBytes += static_cast<uint64_t>(r.spanMaxEl - r.spanMinEl + 1) * static_cast<uint64_t>(pc.srcSize);
          u.ranges.push_back(r);
        });
    return u;
  }

  void addGeneric(Unit& u, const KernelSet* ks, const Piece& pc, int64_t lo, int64_t hi, int64_t srcOff, int64_t dstOff) {
    if (hi <= lo) return;
    Kernel k{Launch::Generic, ks, {}, {}, {}};
    k.generic = genericArgsFor(pc, lo, hi, srcOff, dstOff);
    u.kernels.push_back(k);
  }

  // Places each range's span in staging (aligned so that the vector body of its rows is 16-byte aligned on
  // both sides) and chooses its kernels.
  void buildKernels(Unit& u) {
    uint64_t cursor = 0;
    for (Range& r : u.ranges) {
      const Piece& pc = plan_.pieces[r.piece];
      const Tensor& t = plan_.tensors[pc.tensor];
      const int64_t ssz = pc.srcSize, dsz = pc.dstSize, rk = pc.rank;
      const int64_t dstOff = static_cast<int64_t>(u.pad) + static_cast<int64_t>(t.byteStart) - static_cast<int64_t>(u.begin) + pc.dstOffset * dsz;
      const int64_t cols = pc.shape[rk - 1];
      const bool dense = pc.srcStrides[rk - 1] == 1 && pc.dstStrides[rk - 1] == 1;
      const bool transposed = rk >= 2 && cols >= 32 && std::llabs(pc.srcStrides[rk - 1]) > 1 &&
                              std::llabs(pc.srcStrides[rk - 2]) < std::llabs(pc.srcStrides[rk - 1]);
      // the body: whole rows (or, for rank 1, the range itself as one row)
      int64_t bodyLo, bodyHi, nrows, rowCols;
      RowMap map;
      if (rk == 1) {
        bodyLo = r.lo;
        bodyHi = r.hi;
        nrows = 1;
        rowCols = r.hi - r.lo;
      } else {
        int64_t qa = (r.lo + cols - 1) / cols, qb = r.hi / cols;
        if (qb < qa) qb = qa;
        bodyLo = qa * cols;
        bodyHi = qb * cols;
        nrows = qb - qa;
        rowCols = cols;
        map.first = qa;
        map.rank = static_cast<int>(rk - 1);
        for (int d = 0; d < rk - 1; d++) {
          map.shape[d] = pc.shape[d];
          map.ss[d] = pc.srcStrides[d];
          map.ds[d] = pc.dstStrides[d];
        }
      }
      const bool useRows = dense && nrows > 0 && rowCols > 0;
      const bool useTile = !dense && transposed && nrows > 0;

      // vector body alignment: head elements until the output is 16-byte aligned
      int64_t head = rowCols, nvec = 0;
      int64_t firstSrcEl = 0;  // source element of the first vector
      const KernelSet* ks = cuda::selectKernels(pc.srcDtype, t.dtype, pc.affine.any());
      const int vec = ks->vec;
      if (useRows) {
        bool rowsAligned = true;
        for (int d = 0; d < map.rank; d++)
          if ((map.ss[d] * ssz) % 16 != 0 || (map.ds[d] * dsz) % 16 != 0) rowsAligned = false;
        int64_t d0 = dstOff + (rk == 1 ? bodyLo : outputPositionRel(pc, bodyLo)) * dsz;
        if (rowsAligned && d0 % dsz == 0) {
          head = std::min<int64_t>(rowCols, ((16 - d0 % 16) % 16) / dsz);
          nvec = (rowCols - head) / vec;
          firstSrcEl = sourceElement(pc, bodyLo) + head;
        }
      }
      // staging place: element-aligned, and the first vector's source 16-byte aligned
      cursor = (cursor + kAlign - 1) / kAlign * kAlign;
      uint64_t shift = 0;
      if (nvec > 0) shift = static_cast<uint64_t>((16 - ((firstSrcEl - r.spanMinEl) * ssz) % 16) % 16);
      r.stageOff = cursor + shift;
      cursor = r.stageOff + static_cast<uint64_t>(r.spanMaxEl - r.spanMinEl + 1) * static_cast<uint64_t>(ssz);
      const int64_t srcOff = static_cast<int64_t>(r.stageOff) - r.spanMinEl * ssz;

      if (!useRows && !useTile) {
        addGeneric(u, ks, pc, r.lo, r.hi, srcOff, dstOff);
        continue;
      }
      addGeneric(u, ks, pc, r.lo, bodyLo, srcOff, dstOff);
      if (useRows) {
        Kernel k{Launch::Rows, ks, {}, {}, {}};
        RowsArgs& a = k.rows;
        a.srcOff = srcOff + (rk == 1 ? bodyLo * ssz : 0);
        a.dstOff = dstOff + (rk == 1 ? bodyLo * dsz : 0);
        a.nrows = nrows;
        a.cols = rowCols;
        a.head = head;
        a.nvec = nvec;
        a.rows = map;
        a.affine = pc.affine;
        u.kernels.push_back(k);
      } else {
        Kernel k{Launch::Tile, ks, {}, {}, {}};
        TileArgs& a = k.tile;
        a.srcOff = srcOff;
        a.dstOff = dstOff;
        a.nrows = nrows;
        a.cols = rowCols;
        a.ssCol = pc.srcStrides[rk - 1];
        a.dsCol = pc.dstStrides[rk - 1];
        a.rows = map;
        a.affine = pc.affine;
        u.kernels.push_back(k);
      }
      addGeneric(u, ks, pc, bodyHi, r.hi, srcOff, dstOff);
    }
    u.stageBytes = cursor;
  }

  // output position relative to the piece's dstOffset
  static int64_t outputPositionRel(const Piece& pc, int64_t k) { return outputPosition(pc, k) - pc.dstOffset; }

  const Plan& plan_;
  uint64_t window_, stageCap_;
};

// One worker's buffers on one GPU.
struct Slot {
  int gpu = 0;
  int sms = 1;  // the GPU's streaming multiprocessors (grid sizes follow them)
  cudaStream_t stream = nullptr;
  uint8_t* hostStage = nullptr;
  uint8_t* hostOut = nullptr;
  uint8_t* devStage = nullptr;
  uint8_t* devOut = nullptr;
  std::unique_ptr<cuda::QuantBuffers> quant;  // only for plans with quantized tensors

  void open(int g, uint64_t stageBytes, uint64_t outBytes) {
    gpu = g;
    CK(cudaSetDevice(g), g);
    CK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, g), g);
    CK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), g);
    CK(cudaMallocHost(&hostStage, stageBytes), g);
    CK(cudaMallocHost(&hostOut, outBytes), g);
    CK(cudaMalloc(&devStage, stageBytes), g);
    CK(cudaMalloc(&devOut, outBytes), g);
  }
  ~Slot() {  // errors while releasing are ignored: the job has already succeeded or failed
    if (stream) cudaSetDevice(gpu);
    if (stream) cudaStreamSynchronize(stream);
    if (devOut) cudaFree(devOut);
    if (devStage) cudaFree(devStage);
    if (hostOut) cudaFreeHost(hostOut);
    if (hostStage) cudaFreeHost(hostStage);
    if (stream) cudaStreamDestroy(stream);
  }
};

class Runner {
 public:
  Runner(const Plan& plan, const std::vector<int>& fds, const DeviceOptions& opts, const DeviceHooks& hooks)
      : plan_(plan), fds_(fds), opts_(opts), hooks_(hooks) {}

  void run() {
    // buffer sizes: a window of output and twice as much staging per worker, within the memory budget: the
    // device memory per GPU, and the host budget (maxBufferBytes, shared by the GPUs) for the pinned copies and
    // the source pages a unit maps while it is read
    const uint64_t hostPerGpu = std::max<uint64_t>(1, opts_.hostBufferBytes / opts_.gpus.size());
    const uint64_t budget = std::min(opts_.memoryBytes, hostPerGpu);
    uint64_t perSlot = kWindowBytes + 2 * kWindowBytes;
    outBytes_ = kWindowBytes + kAlign;
    stageBytes_ = 2 * kWindowBytes;
    unsigned slots = static_cast<unsigned>(std::max<uint64_t>(1, std::min<uint64_t>(opts_.streamsPerGpu, budget / perSlot)));
    if (budget < perSlot) {  // a small budget: one worker with smaller buffers
      outBytes_ = std::max<uint64_t>(kMinWindowBytes, budget / 3) + kAlign;
      stageBytes_ = std::max<uint64_t>(kMinWindowBytes, 2 * (budget / 3));
    }
    units_ = Planner(plan_, outBytes_ - kAlign, stageBytes_).units();
    // consumed source pages are dropped from the mappings as units finish reading them (as the CPU executor
    // does, window.h), so resident file pages stay near workers × stage size instead of the checkpoint's size
    std::vector<int64_t> rangesPerPiece(plan_.pieces.size(), 0);
    for (const Unit& u : units_)
      for (const Range& r : u.ranges) rangesPerPiece[r.piece]++;
    release_ = std::make_unique<SourceRelease>(plan_, rangesPerPiece);
    // buffers no larger than the largest unit needs, and no more workers than units: small plans (many small
    // files) must not pay for gigabytes of pinned memory
    uint64_t needOut = kAlign, needStage = kAlign;
    for (const Unit& u : units_) {
      needOut = std::max(needOut, u.end - u.begin + u.pad);
      if (!u.hostGather) needStage = std::max(needStage, u.stageBytes);
    }
    outBytes_ = std::min(outBytes_, needOut);
    stageBytes_ = std::min(stageBytes_, needStage);
    const uint64_t perGpu = (units_.size() + opts_.gpus.size() - 1) / opts_.gpus.size();
    slots = static_cast<unsigned>(std::max<uint64_t>(1, std::min<uint64_t>(slots, perGpu)));
    // write-behind as in the CPU executor (units.h): write-back of each output's completed prefix starts
    // every 64 MiB, so the final fsync does not find the whole export dirty
    completion_ = std::make_unique<OutputCompletion>(plan_, fds_, std::vector<UnitSpan>(units_.begin(), units_.end()));
    while (completion_->finishNextEmpty()) {  // a header-only output has no unit whose writer would flush it
    }
    const auto wall0 = Clock::now();
    std::vector<std::thread> pool;
    for (int g : opts_.gpus)
      for (unsigned i = 0; i < slots; i++) pool.emplace_back([this, g] { work(g); });
    for (std::thread& t : pool) t.join();
    if (std::getenv("MCORE_CUDA_STATS")) {  // thread-seconds per stage, to see which one sets the pace
      std::fprintf(stderr, "mcore cuda stats: gpus=%zu workers/gpu=%u units=%zu out=%llu stage=%llu | alloc %.2f read %.2f gpu %.2f write %.2f sync %.2f free %.2f thread-s | wall %.2f s\n",
                   opts_.gpus.size(), slots, units_.size(), (unsigned long long)outBytes_, (unsigned long long)stageBytes_, ns_[0] / 1e9, ns_[1] / 1e9, ns_[2] / 1e9,
                   ns_[3] / 1e9, ns_[4] / 1e9, ns_[5] / 1e9, std::chrono::duration<double>(Clock::now() - wall0).count());
    }
    if (!error_.empty()) throw NativeError(errorCode_, error_);
  }

 private:
  void fail(const std::string& code, const std::string& msg) {
    std::lock_guard<std::mutex> lock(mu_);
    if (error_.empty()) {
      errorCode_ = code;
      error_ = msg;
    }
    stop_ = true;
  }
  bool stopped() const { return stop_.load() || (hooks_.stopped && hooks_.stopped()); }

  void work(int gpu) {
    try {
      auto t = Clock::now();
      std::unique_ptr<Slot> slot(new Slot);
      slot->open(gpu, stageBytes_, outBytes_);
      if (!plan_.quants.empty()) slot->quant = std::make_unique<cuda::QuantBuffers>(gpu, kQuantStageBytes, std::max(kQuantScratchBytes, cuda::quantScratchBytes(plan_)));
      tick(0, t);
      for (;;) {
        if (stopped()) return;
        size_t i = next_.fetch_add(1);
        if (i >= units_.size()) break;
        runUnit(units_[i], *slot);
        if (completion_->written(i)) {  // this output's last unit: flush it now (no writer is left)
          auto ts = Clock::now();
          completion_->finish(units_[i].output);
          tick(4, ts);
        }
        if (hooks_.written) hooks_.written(units_[i].end - units_[i].begin);
      }
      t = Clock::now();
      slot.reset();  // give the pinned and device buffers back as soon as no unit is left
      tick(5, t);
    } catch (const NativeError& e) {
      fail(e.code(), e.what());
    } catch (const std::bad_alloc&) {
      fail("E_NATIVE", "out of memory for the GPU executor's unit lists");
    } catch (const std::exception& e) {
      fail("E_NATIVE", e.what());
    }
  }

  const uint8_t* spanAddress(const Range& r) const {
    const Piece& pc = plan_.pieces[r.piece];
    return pc.srcBase + r.spanMinEl * pc.srcSize;
  }

  void runUnit(const Unit& u, Slot& s) {
    const Output& out = plan_.outputs[u.output];
    const uint64_t bytes = u.end - u.begin;
    if (u.hostGather) {
      hostGather(u, s.hostOut);
      for (const cuda::QuantSeg& q : u.quantSegs) quantizeRange(plan_, plan_.quants[q.quant], q.b0, q.b1, s.hostOut + (q.outOff - u.pad), nullptr);
      for (const Range& r : u.ranges) release_->consumed(r.piece, r.lo, r.hi);
      pwriteAll(fds_[u.output], s.hostOut, bytes, u.begin, out.path);
      return;
    }
    auto t = Clock::now();
    // disk (or page cache) → pinned staging
    for (const Range& r : u.ranges) {
      const Piece& pc = plan_.pieces[r.piece];
      uint64_t n = static_cast<uint64_t>(r.spanMaxEl - r.spanMinEl + 1) * static_cast<uint64_t>(pc.srcSize);
      if (pc.source < 0) std::memset(s.hostStage + r.stageOff, 0, n);
      else std::memcpy(s.hostStage + r.stageOff, spanAddress(r), n);
    }
    for (const Range& r : u.ranges) release_->consumed(r.piece, r.lo, r.hi);  // staged: the mapping is done with
    const int g = s.gpu;
    t = tick(1, t);
    CK(cudaMemcpyAsync(s.devStage, s.hostStage, u.stageBytes, cudaMemcpyHostToDevice, s.stream), g);
    for (const Kernel& k : u.kernels) launch(k, s);
    CK(cudaGetLastError(), g);
    for (const cuda::QuantSeg& q : u.quantSegs) cuda::runQuantSegment(plan_, q, *s.quant, s.devOut, s.stream, s.sms);
    CK(cudaMemcpyAsync(s.hostOut, s.devOut + u.pad, bytes, cudaMemcpyDeviceToHost, s.stream), g);
    CK(cudaStreamSynchronize(s.stream), g);
    t = tick(2, t);
    pwriteAll(fds_[u.output], s.hostOut, bytes, u.begin, out.path);
    tick(3, t);
  }

  // MCORE_CUDA_DEBUG=1: synchronise after every launch and name the kernel that failed, with its arguments
  static std::string describe(const Kernel& k) {
    char b[400];
    if (k.kind == Launch::Rows)
      std::snprintf(b, sizeof b, "rows kernel srcOff=%lld dstOff=%lld nrows=%lld cols=%lld head=%lld nvec=%lld rowRank=%d", (long long)k.rows.srcOff, (long long)k.rows.dstOff,
                    (long long)k.rows.nrows, (long long)k.rows.cols, (long long)k.rows.head, (long long)k.rows.nvec, k.rows.rows.rank);
    else if (k.kind == Launch::Tile)
      std::snprintf(b, sizeof b, "tile kernel srcOff=%lld dstOff=%lld nrows=%lld cols=%lld ssCol=%lld dsCol=%lld rowRank=%d", (long long)k.tile.srcOff, (long long)k.tile.dstOff,
                    (long long)k.tile.nrows, (long long)k.tile.cols, (long long)k.tile.ssCol, (long long)k.tile.dsCol, k.tile.rows.rank);
    else
      std::snprintf(b, sizeof b, "generic kernel srcOff=%lld dstOff=%lld lo=%lld hi=%lld rank=%d", (long long)k.generic.srcOff, (long long)k.generic.dstOff, (long long)k.generic.lo,
                    (long long)k.generic.hi, k.generic.rank);
    return b;
  }

  void launch(const Kernel& k, Slot& s) {
    launchOne(k, s);
    if (debug_) {
      cudaError_t e = cudaStreamSynchronize(s.stream);
      if (e == cudaSuccess) e = cudaGetLastError();
      if (e != cudaSuccess) throw NativeError("E_DEVICE", describe(k) + " failed on GPU " + std::to_string(s.gpu) + ": " + cudaGetErrorName(e) + ": " + cudaGetErrorString(e));
    }
  }

  void launchOne(const Kernel& k, Slot& s) {
    const KernelSet& ks = *k.ks;
    switch (k.kind) {
      case Launch::Rows: {
        RowsArgs a = k.rows;
        a.src = s.devStage;
        a.dst = s.devOut;
        int64_t perRow = a.nvec + (a.cols - a.nvec * ks.vec);
        ks.rows(a, blocksFor(a.nrows * perRow, 256, s.sms), s.stream);
        break;
      }
      case Launch::Tile: {
        TileArgs a = k.tile;
        a.src = s.devStage;
        a.dst = s.devOut;
        int64_t gx = (a.cols + cuda::kTile - 1) / cuda::kTile, gy = (a.nrows + cuda::kTile - 1) / cuda::kTile;
        ks.tile(a, dim3(static_cast<unsigned>(std::min<int64_t>(gx, 1 << 20)), static_cast<unsigned>(std::min<int64_t>(gy, 65535))), s.stream);
        break;
      }
      case Launch::Generic: {
        GenericArgs a = k.generic;
        a.src = s.devStage;
        a.dst = s.devOut;
        ks.generic(a, blocksFor(a.hi - a.lo, 256, s.sms), s.stream);
        break;
      }
    }
  }

  void hostGather(const Unit& u, uint8_t* buffer) {
    for (const Range& r : u.ranges) {
      const Piece& pc = plan_.pieces[r.piece];
      const Tensor& t = plan_.tensors[pc.tensor];
      uint64_t size = static_cast<uint64_t>(itemsize(t.dtype));
      uint64_t b = std::max(u.begin, t.byteStart);
      int64_t e0 = static_cast<int64_t>((b - t.byteStart) / size);
      gatherRange(pc, r.lo, r.hi, buffer + (b - u.begin), e0);
    }
  }

  const Plan& plan_;
  const std::vector<int>& fds_;
  const DeviceOptions& opts_;
  const DeviceHooks& hooks_;
  uint64_t outBytes_ = 0, stageBytes_ = 0;
  const bool debug_ = std::getenv("MCORE_CUDA_DEBUG") != nullptr && std::getenv("MCORE_CUDA_DEBUG")[0] == '1';
  std::vector<Unit> units_;
  std::unique_ptr<SourceRelease> release_;
  std::unique_ptr<OutputCompletion> completion_;
  std::atomic<size_t> next_{0};
  std::atomic<bool> stop_{false};
  using Clock = std::chrono::steady_clock;
  std::atomic<uint64_t> ns_[6] = {};  // alloc, read, gpu, write, fsync, free
  Clock::time_point tick(int stage, Clock::time_point since) {
    auto now = Clock::now();
    ns_[stage] += static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now - since).count());
    return now;
  }
  std::mutex mu_;
  std::string errorCode_, error_;
};

}  // namespace

void checkDevices(const std::vector<int>& gpus) {
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    cudaGetLastError();
    throw NativeError("E_DEVICE", std::string("no usable CUDA device: ") + cudaGetErrorName(err) + ": " + cudaGetErrorString(err));
  }
  if (count == 0) throw NativeError("E_DEVICE", "no CUDA device found");
  if (gpus.empty()) throw NativeError("E_DEVICE", "no GPU listed");
  for (int g : gpus)
    if (g < 0 || g >= count) throw NativeError("E_DEVICE", "GPU " + std::to_string(g) + " does not exist (this machine has " + std::to_string(count) + ")");
  for (int g : gpus)
    if (std::string why = cuda::unsupportedDevice(g); !why.empty()) throw NativeError("E_DEVICE", why);
}

void executeOnDevices(const Plan& plan, const std::vector<int>& fds, const DeviceOptions& opts, const DeviceHooks& hooks) {
  checkDevices(opts.gpus);
  for (const Piece& pc : plan.pieces) {
    if (pc.numel == 0) continue;
    if (!cuda::selectKernels(pc.srcDtype, plan.tensors[pc.tensor].dtype, pc.affine.any())) {
      throw NativeError("E_UNSUPPORTED", std::string("no GPU conversion from ") + dtypeName(pc.srcDtype) + " to " + dtypeName(plan.tensors[pc.tensor].dtype) +
                                             " (tensor " + plan.tensors[pc.tensor].name + ")");
    }
  }
  Runner(plan, fds, opts, hooks).run();
}

}  // namespace mcore
