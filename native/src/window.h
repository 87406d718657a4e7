// Bounded memory for the CPU executor. Two things decide how much of a model the process holds at once:
//   - the per-thread unit buffers and the source pages a unit maps while it gathers: `shapeWindow` picks the
//     thread count and unit size so that threads × unitBytes × (1 + source bytes per output byte) stays within
//     maxBufferBytes;
//   - the mapped source pages a unit touched: `SourceRelease` drops them from the mapping (MADV_DONTNEED) as
//     soon as they are consumed, so resident file pages stay near threads × (bytes read per unit) instead of
//     growing to the size of the checkpoint. Dropping is always safe: the maps are read-only views of files
//     that do not change, so a later read of a dropped page only faults it in again from the page cache.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "plan.h"

namespace mcore {

constexpr uint64_t kDefaultMaxBufferBytes = 1ull << 30;
/** Smallest unit (and smallest accepted maxBufferBytes): a page, and a whole number of any element size. */
constexpr uint64_t kMinUnitBytes = 4096;

struct WindowShape {
  unsigned threads;
  uint64_t unitBytes;
};

/** Threads and unit size for a budget where each unit byte costs `bytesPerUnitByte` (its buffer byte plus the
 *  source bytes mapped for it): units of `preferredUnit` bytes unless the budget per thread is smaller, and
 *  fewer threads when even kMinUnitBytes each would not fit (one thread with one page is the floor). */
WindowShape shapeWindow(uint64_t maxBufferBytes, unsigned threads, uint64_t preferredUnit, uint64_t bytesPerUnitByte = 1);

/** 1 + the largest source-to-output element size ratio (rounded up) of the plan's file-backed pieces. */
uint64_t bytesPerUnitByte(const Plan& plan);

/** The byte span [begin, begin + length) of its source file that elements [lo, hi) of a piece read. */
struct SourceSpan {
  uint64_t begin = 0, length = 0;
};
SourceSpan sourceSpan(const Piece& pc, int64_t lo, int64_t hi);

/**
 * Releases consumed source pages. Each unit, after gathering, reports every piece part it read:
 *   - a dense part (its span is at most a few times the bytes it read: row runs, TP slices) has its span
 *     dropped at once;
 *   - a sparse part (a transposed source, whose span is most of the region for every unit) is left mapped,
 *     and the whole region of the piece is dropped when the last unit that reads the piece is done.
 */
class SourceRelease {
 public:
  /** `unitsPerPiece[p]`: how many units call `consumed` for piece p. */
  SourceRelease(const Plan& plan, const std::vector<int64_t>& unitsPerPiece);
  void consumed(int piece, int64_t lo, int64_t hi);
  /** Drops the span of a dense part at once and counts nothing (parts of a quantized tensor's source, which
   *  are read once per block row, in numbers not known beforehand). */
  void consumedDense(int piece, int64_t lo, int64_t hi);
  uint64_t releasedBytes() const { return released_.load(std::memory_order_relaxed); }

 private:
  void drop(const MappedFile& file, uint64_t begin, uint64_t length);

  const Plan& plan_;
  std::unique_ptr<std::atomic<int64_t>[]> remaining_;
  std::atomic<uint64_t> released_{0};
};

}  // namespace mcore

namespace mcore {

/**
 * Write-behind for one output file: units finish out of order, so it tracks the prefix of the file whose
 * units are all written. Each time that prefix grows by kWriteBehindBytes it starts write-back of the new
 * part (sync_file_range) and waits for the part before it, then drops that clean part from the page cache
 * (POSIX_FADV_DONTNEED). Dirty and cached output then stay near 2 × kWriteBehindBytes per file instead of
 * growing to the size of the export, which on a machine with a full page cache costs reclaim in the writers.
 * Linux only; elsewhere a no-op until the final fsync.
 */
class WriteBehind {
 public:
  static constexpr uint64_t kWriteBehindBytes = 64ull << 20;
  /** `unitEnds[k]`: end offset of the output's k-th unit (in file order); the header before it is written. */
  WriteBehind(int fd, std::vector<uint64_t> unitEnds);
  /** Unit k is written. Throws NativeError E_IO when waiting for write-back reports an error. */
  void written(size_t k, const std::string& path);
  /** After fsync of the whole file: drops what is left of it from the page cache. */
  void finished();

 private:
  int fd_;
  std::vector<uint64_t> ends_;
  std::vector<bool> done_;
  size_t next_ = 0;          // first unit not yet written
  uint64_t started_ = 0;     // write-back started for [0, started_)
  uint64_t dropped_ = 0;     // [0, dropped_) written back and dropped
  std::mutex mutex_;
};

}  // namespace mcore
