#include "window.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "native_error.h"
#include "units.h"

namespace mcore {

WindowShape shapeWindow(uint64_t maxBufferBytes, unsigned threads, uint64_t preferredUnit, uint64_t bytesPerUnitByte) {
  uint64_t perUnitByte = std::max<uint64_t>(1, bytesPerUnitByte);
  uint64_t budget = std::max(maxBufferBytes, kMinUnitBytes) / perUnitByte;  // in unit bytes
  unsigned n = std::max(1u, threads);
  if (budget / n < kMinUnitBytes) n = static_cast<unsigned>(std::max<uint64_t>(1, budget / kMinUnitBytes));
  uint64_t unit = std::min(preferredUnit, budget / n);
  unit = std::max(kMinUnitBytes, unit / kMinUnitBytes * kMinUnitBytes);  // whole pages
  return {n, unit};
}

uint64_t bytesPerUnitByte(const Plan& plan) {
  uint64_t ratio = 0;
  for (const Piece& pc : plan.pieces) {
    if (pc.source < 0 || plan.sources[pc.source].memory || pc.dstSize == 0) continue;
    ratio = std::max<uint64_t>(ratio, static_cast<uint64_t>((pc.srcSize + pc.dstSize - 1) / pc.dstSize));
  }
  return 1 + ratio;
}

// Bounds of the source elements read by elements [lo, hi) of the piece (row-major order over its normalised
// dims): dims outside the first one where lo and hi - 1 differ are fixed, that dim runs between the two,
// and the dims inside it may take any index. Exact for one-dim (contiguous) pieces, at most one inner span
// too wide at each end otherwise.
SourceSpan sourceSpan(const Piece& pc, int64_t lo, int64_t hi) {
  if (hi <= lo || pc.srcSize == 0) return {};
  int64_t minEl = 0, maxEl = 0;
  sourceElementRange(pc, lo, hi, minEl, maxEl);
  // srcBase is element 0 of the view; the caller turns this into a file offset
  return {static_cast<uint64_t>(minEl * pc.srcSize), static_cast<uint64_t>((maxEl - minEl + 1) * pc.srcSize)};
}

SourceRelease::SourceRelease(const Plan& plan, const std::vector<int64_t>& unitsPerPiece)
    : plan_(plan), remaining_(new std::atomic<int64_t>[unitsPerPiece.size()]) {
  for (size_t i = 0; i < unitsPerPiece.size(); i++) remaining_[i].store(unitsPerPiece[i], std::memory_order_relaxed);
}

void SourceRelease::drop(const MappedFile& file, uint64_t begin, uint64_t length) {
  if (length == 0) return;
  file.advise(begin, length, MappedFile::Advice::DontNeed);
  released_.fetch_add(length, std::memory_order_relaxed);
}

void SourceRelease::consumed(int piece, int64_t lo, int64_t hi) {
  const Piece& pc = plan_.pieces[piece];
  bool last = remaining_[piece].fetch_sub(1, std::memory_order_acq_rel) == 1;
  consumedDense(piece, lo, hi);
  if (last && pc.source >= 0 && !plan_.sources[pc.source].memory && plan_.sources[pc.source].file)
    drop(*plan_.sources[pc.source].file, pc.regionOffset, pc.regionLength);
}

void SourceRelease::consumedDense(int piece, int64_t lo, int64_t hi) {
  const Piece& pc = plan_.pieces[piece];
  bool fileBacked = pc.source >= 0 && !plan_.sources[pc.source].memory && plan_.sources[pc.source].file;
  if (!fileBacked) return;
  const MappedFile& file = *plan_.sources[pc.source].file;
  uint64_t base = static_cast<uint64_t>(pc.srcBase - file.data());  // file offset of view element 0
  SourceSpan span = sourceSpan(pc, lo, hi);
  uint64_t read = static_cast<uint64_t>(hi - lo) * static_cast<uint64_t>(pc.srcSize);
  bool dense = span.length <= 4 * read + (64u << 10);
  // minEl may be negative for negative strides; the unsigned sum wraps back into the file
  if (dense && hi > lo) drop(file, base + span.begin, span.length);
}

}  // namespace mcore

namespace mcore {

WriteBehind::WriteBehind(int fd, std::vector<uint64_t> unitEnds) : fd_(fd), ends_(std::move(unitEnds)), done_(ends_.size(), false) {}

void WriteBehind::written(size_t k, const std::string& path) {
#if defined(__linux__)
  uint64_t startFrom = 0, startTo = 0, dropFrom = 0, dropTo = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    done_[k] = true;
    uint64_t prefix = started_;
    while (next_ < ends_.size() && done_[next_]) prefix = ends_[next_++];
    if (prefix - started_ < kWriteBehindBytes) return;
    dropFrom = dropped_;
    dropTo = started_;
    startFrom = started_;
    startTo = prefix;
    dropped_ = started_;
    started_ = prefix;
  }
  ::sync_file_range(fd_, static_cast<off_t>(startFrom), static_cast<off_t>(startTo - startFrom), SYNC_FILE_RANGE_WRITE);
  if (dropTo > dropFrom) {
    // the previous part has had a whole part's time to be written back; wait for it, then let it go
    unsigned flags = SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER;
    if (::sync_file_range(fd_, static_cast<off_t>(dropFrom), static_cast<off_t>(dropTo - dropFrom), flags) != 0 && errno == EIO)
      throwErrno("cannot write", path, errno);
    ::posix_fadvise(fd_, static_cast<off_t>(dropFrom), static_cast<off_t>(dropTo - dropFrom), POSIX_FADV_DONTNEED);
  }
#else
  (void)k;
  (void)path;
#endif
}

void WriteBehind::finished() {
#ifdef POSIX_FADV_DONTNEED
  ::posix_fadvise(fd_, 0, 0, POSIX_FADV_DONTNEED);  // a hint: failure changes nothing we rely on
#endif
}

}  // namespace mcore
