#include "executor.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <memory>
#include <mutex>
#include <vector>

#include "cuda_executor.h"
#include "native_error.h"
#include "gather.h"
#include "js_error.h"
#include "plan.h"
#include "quant.h"
#include "unique_fd.h"
#include "units.h"
#include "window.h"
#include "worker_pool.h"
#include "write_all.h"

namespace mcore {

namespace {

struct ProgressData {
  double done, total;
};

struct Part {
  int piece;
  int64_t lo, hi;
};

class Job : public Napi::AsyncWorker {
 public:
  Job(Napi::Env env, Plan plan, std::vector<Napi::Reference<Napi::Value>> keepAlive, unsigned threads,
      uint64_t maxBufferBytes, std::shared_ptr<std::atomic<bool>> cancelled)
      : Napi::AsyncWorker(env, "mcore-execute"),
        deferred_(Napi::Promise::Deferred::New(env)),
        plan_(std::move(plan)),
        keepAlive_(std::move(keepAlive)),
        threads_(threads),
        maxBufferBytes_(maxBufferBytes),
        cancelled_(std::move(cancelled)) {}

  ~Job() override { closeOutputs(); }

  Napi::Promise promise() { return deferred_.Promise(); }
  /** Run on these GPUs instead of the CPU thread pool (native/src/cuda/device_executor.cu). */
  void setDevices(DeviceOptions devices) { devices_ = std::move(devices); }
  void setProgress(Napi::ThreadSafeFunction tsfn) {
    progress_ = std::move(tsfn);
    hasProgress_ = true;
  }

 protected:
  void Execute() override {
    try {
      run();
    } catch (const NativeError& e) {
      fail(e.code(), e.what());
    } catch (const std::bad_alloc&) {
      fail("E_NATIVE", "out of memory");
    } catch (const std::exception& e) {
      fail("E_NATIVE", e.what());
    }
    closeOutputs();
    if (!errorCode_.empty()) SetError(errorMessage_);
  }

  void OnOK() override {
    Napi::Env env = Env();
    releaseProgress();
    Napi::Object result = Napi::Object::New(env);
    result.Set("bytes", Napi::Number::New(env, static_cast<double>(plan_.totalBytes)));
    result.Set("threads", Napi::Number::New(env, usedThreads_));
    result.Set("unitBytes", Napi::Number::New(env, static_cast<double>(unitBytes_)));
    result.Set("releasedBytes", Napi::Number::New(env, static_cast<double>(release_ ? release_->releasedBytes() : 0)));
    deferred_.Resolve(result);
  }

  void OnError(const Napi::Error& e) override {
    Napi::Env env = Env();
    releaseProgress();
    Napi::Error err = makeJsError(env, errorCode_.empty() ? "E_NATIVE" : errorCode_, e.Message());
    deferred_.Reject(err.Value());
  }

 private:
  void fail(const std::string& code, const std::string& message) {
    std::lock_guard<std::mutex> lock(errorMutex_);
    if (errorCode_.empty()) {
      errorCode_ = code;
      errorMessage_ = message;
    }
    stop_.store(true);
  }

  void run() {
    validatePlan(plan_);  // everything is checked before the first output is created
    if (!devices_.gpus.empty()) checkDevices(devices_.gpus);
    if (cancelled_->load()) throw NativeError("E_ABORTED", "the export was aborted");
    fds_.clear();
    for (size_t o = 0; o < plan_.outputs.size(); o++) {
      const Output& out = plan_.outputs[o];
      fds_.emplace_back(::open(out.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666));
      if (!fds_.back().valid()) throwErrno("cannot create", out.path, errno);
      int fd = fds_.back().get();
      if (::ftruncate(fd, static_cast<off_t>(out.size)) != 0) throwErrno("cannot size", out.path, errno);
      pwriteAll(fd, out.header.data(), out.header.size(), 0, out.path);
      done_ += out.header.size();
    }
    if (!devices_.gpus.empty()) {
      runOnDevices();
      return;
    }
    // the buffers and the source pages units map (threads × unit × (1 + src/dst size)) stay within
    // maxBufferBytes; consumed source pages are dropped as units finish
    WindowShape shape = shapeWindow(maxBufferBytes_, threads_, kUnitBytes, bytesPerUnitByte(plan_));
    unitBytes_ = shape.unitBytes;
    // a unit holds at least one block row of every quantized tensor, so that none is computed more than once
    for (const Quant& q : plan_.quants)
      if (!q.scales) unitBytes_ = std::max(unitBytes_, (q.granule + kMinUnitBytes - 1) / kMinUnitBytes * kMinUnitBytes);
    units_ = cutUnits(plan_, unitBytes_);
    // counts the parts of each piece (and checks that pieces cover their tensors) before anything is gathered
    std::vector<int64_t> partsPerPiece(plan_.pieces.size(), 0);
    for (const UnitSpan& u : units_) forEachPart(plan_, u, [](const Tensor&, int64_t, int64_t) {}, [&](int pi, int64_t, int64_t) { partsPerPiece[pi]++; });
    release_ = std::make_unique<SourceRelease>(plan_, partsPerPiece);
    completion_ = std::make_unique<OutputCompletion>(plan_, outputFds(), units_);
    unsigned n = std::max(1u, std::min({shape.threads, static_cast<unsigned>(units_.size()), workerPoolSize()}));
    usedThreads_ = n;
    start_ = std::chrono::steady_clock::now();
    runOnWorkerPool(n, [this] { work(); });  // the process-wide pool: concurrent exports share its threads
    if (!errorCode_.empty()) return;
    if (cancelled_->load()) throw NativeError("E_ABORTED", "the export was aborted");
  }

  void runOnDevices() {
    // workers per GPU: each copies its spans in and writes its window out, so the CPU threads still set the
    // pace of page-cache reads and writes; share the executor's threads among the GPUs
    devices_.streamsPerGpu = std::max(4u, threads_ / static_cast<unsigned>(devices_.gpus.size()));
    usedThreads_ = devices_.streamsPerGpu * static_cast<unsigned>(devices_.gpus.size());
    start_ = std::chrono::steady_clock::now();
    DeviceHooks hooks;
    hooks.stopped = [this] { return stop_.load() || cancelled_->load(); };
    hooks.written = [this](uint64_t bytes) {
      done_ += bytes;
      maybeReport();
    };
    executeOnDevices(plan_, outputFds(), devices_, hooks);
    if (cancelled_->load()) throw NativeError("E_ABORTED", "the export was aborted");
  }

  void work() {
    try {
      std::unique_ptr<uint8_t[]> buffer;
      for (;;) {
        if (stop_.load(std::memory_order_relaxed)) return;
        if (cancelled_->load(std::memory_order_relaxed)) {
          fail("E_ABORTED", "the export was aborted");
          return;
        }
        size_t u = nextUnit_.fetch_add(1);
        if (u >= units_.size()) break;
        if (!buffer) buffer.reset(new uint8_t[unitBytes_]);
        runUnit(units_[u], buffer.get());
        done_ += units_[u].end - units_[u].begin;
        maybeReport();
        // the thread that writes an output's last unit flushes it while the others go on with the next file
        if (completion_->written(u)) completion_->finish(units_[u].output);
      }
      // outputs without data units (header only)
      while (!stop_.load() && completion_->finishNextEmpty()) {
      }
    } catch (const NativeError& e) {
      fail(e.code(), e.what());
    } catch (const std::bad_alloc&) {
      fail("E_NATIVE", "out of memory for a work buffer");
    } catch (const std::exception& e) {
      fail("E_NATIVE", e.what());
    }
  }

  std::vector<int> outputFds() const {
    std::vector<int> fds;
    for (const UniqueFd& fd : fds_) fds.push_back(fd.get());
    return fds;
  }

  void runUnit(const UnitSpan& u, uint8_t* buffer) {
    const Output& out = plan_.outputs[u.output];
    uint8_t* window = nullptr;
    int64_t e0 = 0;
    thread_local std::vector<Part> parts;
    parts.clear();
    forEachPart(
        plan_, u,
        [&](const Tensor& t, int64_t a, int64_t b) {
          window = buffer + (std::max(u.begin, t.byteStart) - u.begin);
          e0 = a;
          if (t.quant >= 0) {
            const uint64_t size = static_cast<uint64_t>(itemsize(t.dtype));
            quantizeRange(plan_, plan_.quants[t.quant], static_cast<uint64_t>(a) * size, static_cast<uint64_t>(b) * size, window,
                          [this](int pi, int64_t lo, int64_t hi) { release_->consumedDense(pi, lo, hi); });
          }
        },
        [&](int pi, int64_t lo, int64_t hi) {
          const Piece& pc = plan_.pieces[pi];
          if (hi > lo && pc.source >= 0 && !plan_.sources[pc.source].memory) adviseSource(pc, lo, hi);
          gatherRange(pc, lo, hi, window, e0);
          parts.push_back({pi, lo, hi});
        });
    // the bytes are in the buffer: the source pages they came from are no longer needed by this unit
    for (const Part& p : parts) release_->consumed(p.piece, p.lo, p.hi);
    pwriteAll(fds_[u.output].get(), buffer, u.end - u.begin, u.begin, out.path);
  }

  // Ask the kernel to read ahead the source bytes this range will touch.
  void adviseSource(const Piece& pc, int64_t lo, int64_t hi) {
    // extremes of the source offsets over the range: bounded by the offsets of its first and last elements
    // widened by one full inner-dims span, which is enough for a read-ahead hint
    int64_t a = sourceElement(pc, lo), b = sourceElement(pc, hi - 1);
    int64_t minEl = std::min(a, b), maxEl = std::max(a, b);
    const MappedFile& file = *plan_.sources[pc.source].file;
    uint64_t begin = static_cast<uint64_t>(pc.srcBase + minEl * pc.srcSize - file.data());
    uint64_t length = static_cast<uint64_t>((maxEl - minEl + 1) * pc.srcSize);
    // small ranges are not worth a system call; huge spans (transposed sources) would map far too much
    if (length >= (1ull << 20) && length <= (64ull << 20)) file.advise(begin, length, MappedFile::Advice::Populate);
  }

  void maybeReport() {
    if (!hasProgress_) return;
    int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start_).count();
    int64_t last = lastReportMs_.load();
    if (now - last < 100 || !lastReportMs_.compare_exchange_strong(last, now)) return;
    auto* data = new ProgressData{static_cast<double>(done_.load()), static_cast<double>(plan_.totalBytes)};
    napi_status s = progress_.NonBlockingCall(data, [](Napi::Env env, Napi::Function fn, ProgressData* d) {
      if (env != nullptr && fn != nullptr) fn.Call({Napi::Number::New(env, d->done), Napi::Number::New(env, d->total)});
      delete d;
    });
    if (s != napi_ok) delete data;
  }

  void releaseProgress() {
    if (hasProgress_) {
      hasProgress_ = false;
      progress_.Release();
    }
  }

  void closeOutputs() {
    fds_.clear();  // UniqueFd closes each
    for (Source& s : plan_.sources)
      if (s.file) s.file->close();
  }

  Napi::Promise::Deferred deferred_;
  Plan plan_;
  std::vector<Napi::Reference<Napi::Value>> keepAlive_;
  unsigned threads_;
  uint64_t maxBufferBytes_;
  uint64_t unitBytes_ = 0;
  std::unique_ptr<SourceRelease> release_;
  DeviceOptions devices_;
  unsigned usedThreads_ = 0;
  std::shared_ptr<std::atomic<bool>> cancelled_;
  Napi::ThreadSafeFunction progress_;
  bool hasProgress_ = false;

  std::vector<UniqueFd> fds_;
  std::vector<UnitSpan> units_;
  std::atomic<size_t> nextUnit_{0};
  std::unique_ptr<OutputCompletion> completion_;
  std::atomic<uint64_t> done_{0};
  std::atomic<int64_t> lastReportMs_{-1000};  // the first finished unit reports at once
  std::chrono::steady_clock::time_point start_;
  std::atomic<bool> stop_{false};
  std::mutex errorMutex_;
  std::string errorCode_, errorMessage_;
};

}  // namespace

Napi::Value Execute(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throwJs(env, "E_USAGE", "execute(plan, options): plan must be an object");
  Napi::Object opts = info.Length() > 1 && info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
  unsigned threads = workerPoolSize();
  if (opts.Has("threads") && !opts.Get("threads").IsUndefined()) {
    uint64_t t = requireIndex(env, opts.Get("threads"), "threads");
    if (t < 1 || t > 1024) throwJs(env, "E_USAGE", "threads must be between 1 and 1024");
    threads = static_cast<unsigned>(t);
  }
  // bytes of work buffers all threads together may hold (the unit size shrinks, then the thread count)
  uint64_t maxBufferBytes = kDefaultMaxBufferBytes;
  if (opts.Has("maxBufferBytes") && !opts.Get("maxBufferBytes").IsUndefined()) {
    maxBufferBytes = requireIndex(env, opts.Get("maxBufferBytes"), "maxBufferBytes");
    if (maxBufferBytes < kMinUnitBytes) throwJs(env, "E_USAGE", "maxBufferBytes must be at least " + std::to_string(kMinUnitBytes));
  }
  // {gpus: number[], deviceMemory?: bytes}: run on CUDA GPUs
  DeviceOptions devices;
  Napi::Value gpus = opts.Get("gpus");
  if (gpus.IsArray()) {
    Napi::Array a = gpus.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) devices.gpus.push_back(static_cast<int>(requireIndex(env, a.Get(i), "gpus[i]")));
    if (devices.gpus.empty()) throwJs(env, "E_USAGE", "gpus must list at least one GPU");
    if (opts.Has("deviceMemory") && !opts.Get("deviceMemory").IsUndefined()) {
      devices.memoryBytes = requireIndex(env, opts.Get("deviceMemory"), "deviceMemory");
      if (devices.memoryBytes < (8ull << 20)) throwJs(env, "E_USAGE", "deviceMemory must be at least 8 MiB");
    }
  }
  std::vector<Napi::Reference<Napi::Value>> keepAlive;
  Plan plan = decodePlan(env, info[0].As<Napi::Object>(), keepAlive);
  auto cancelled = std::make_shared<std::atomic<bool>>(false);
  auto* job = new Job(env, std::move(plan), std::move(keepAlive), threads, maxBufferBytes, cancelled);
  devices.hostBufferBytes = maxBufferBytes;  // --max-buffer bounds the GPU path's pinned host buffers too
  if (!devices.gpus.empty()) job->setDevices(std::move(devices));
  Napi::Value onProgress = opts.Get("onProgress");
  if (onProgress.IsFunction()) {
    job->setProgress(Napi::ThreadSafeFunction::New(env, onProgress.As<Napi::Function>(), "mcore-progress", 0, 1));
  }
  Napi::Object handle = Napi::Object::New(env);
  handle.Set("promise", job->promise());
  handle.Set("cancel", Napi::Function::New(env, [cancelled](const Napi::CallbackInfo& i) {
    cancelled->store(true);
    return i.Env().Undefined();
  }, "cancel"));
  job->Queue();
  return handle;
}

}  // namespace mcore
