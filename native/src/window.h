// Bounded memory for the CPU executor. Two things decide how much of a model the process holds at once:
//   - the per-thread unit buffers: `shapeWindow` picks the thread count and unit size so that
//     threads × unitBytes ≤ maxBufferBytes;
//   - the mapped source pages a unit touched: `SourceRelease` drops them from the mapping (MADV_DONTNEED) as
//     soon as they are consumed, so resident file pages stay near threads × (bytes read per unit) instead of
//     growing to the size of the checkpoint. Dropping is always safe: the maps are read-only views of files
//     that do not change, so a later read of a dropped page only faults it in again from the page cache.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
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

/** Threads and unit size for a buffer budget: units of `preferredUnit` bytes unless the budget divided by the
 *  threads is smaller, and fewer threads when even kMinUnitBytes each would not fit. */
WindowShape shapeWindow(uint64_t maxBufferBytes, unsigned threads, uint64_t preferredUnit);

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
  uint64_t releasedBytes() const { return released_.load(std::memory_order_relaxed); }

 private:
  void drop(const MappedFile& file, uint64_t begin, uint64_t length);

  const Plan& plan_;
  std::unique_ptr<std::atomic<int64_t>[]> remaining_;
  std::atomic<uint64_t> released_{0};
};

}  // namespace mcore
