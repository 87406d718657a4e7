#include "units.h"

#include <unistd.h>

#include <cerrno>

#include "write_all.h"

namespace mcore {

uint64_t cutUnitEnd(const Plan& plan, const Output& out, uint64_t at, uint64_t end) {
  if (end >= out.size) return out.size;
  // first tensor ending after `end`
  auto it = std::upper_bound(out.tensors.begin(), out.tensors.end(), end, [&](uint64_t x, int ti) {
    return x < plan.tensors[ti].byteStart + plan.tensors[ti].byteLength;
  });
  if (it == out.tensors.end()) return end;
  const Tensor& t = plan.tensors[*it];
  if (t.byteStart > end) return end;  // `end` falls between tensors
  uint64_t size = static_cast<uint64_t>(itemsize(t.dtype));
  uint64_t granule = t.quant >= 0 && plan.quants[t.quant].granule % size == 0 ? plan.quants[t.quant].granule : size;
  uint64_t aligned = t.byteStart + (end - t.byteStart) / granule * granule;
  if (aligned <= at) aligned = t.byteStart + (end - t.byteStart) / size * size;
  return aligned > at ? aligned : end;
}

std::vector<UnitSpan> cutUnits(const Plan& plan, uint64_t unitBytes) {
  std::vector<UnitSpan> units;
  for (size_t o = 0; o < plan.outputs.size(); o++) {
    const Output& out = plan.outputs[o];
    for (uint64_t at = out.header.size(); at < out.size;) {
      uint64_t end = cutUnitEnd(plan, out, at, std::min(out.size, at + unitBytes));
      units.push_back({static_cast<int>(o), at, end});
      at = end;
    }
  }
  return units;
}

int64_t sourceElement(const Piece& pc, int64_t k) {
  int64_t s = 0;
  for (int d = pc.rank - 1; d >= 0; d--) {
    s += (k % pc.shape[d]) * pc.srcStrides[d];
    k /= pc.shape[d];
  }
  return s;
}

void sourceElementRange(const Piece& pc, int64_t lo, int64_t hi, int64_t& minEl, int64_t& maxEl) {
  int64_t a[kMaxRank], b[kMaxRank];
  int64_t ka = lo, kb = hi - 1;
  for (int d = pc.rank - 1; d >= 0; d--) {
    a[d] = ka % pc.shape[d];
    ka /= pc.shape[d];
    b[d] = kb % pc.shape[d];
    kb /= pc.shape[d];
  }
  minEl = maxEl = 0;
  int d = 0;
  for (; d < pc.rank && a[d] == b[d]; d++) {
    minEl += a[d] * pc.srcStrides[d];
    maxEl += a[d] * pc.srcStrides[d];
  }
  if (d < pc.rank) {
    int64_t x = a[d] * pc.srcStrides[d], y = b[d] * pc.srcStrides[d];
    minEl += std::min(x, y);
    maxEl += std::max(x, y);
    for (int e = d + 1; e < pc.rank; e++) {
      int64_t s = (pc.shape[e] - 1) * pc.srcStrides[e];
      (s < 0 ? minEl : maxEl) += s;
    }
  }
}

OutputCompletion::OutputCompletion(const Plan& plan, std::vector<int> fds, const std::vector<UnitSpan>& units)
    : plan_(plan), fds_(std::move(fds)), firstUnit_(plan.outputs.size(), 0), unitCount_(plan.outputs.size(), 0) {
  std::vector<std::vector<uint64_t>> ends(plan.outputs.size());
  outputOf_.reserve(units.size());
  for (size_t i = 0; i < units.size(); i++) {
    const int o = units[i].output;
    if (ends[o].empty()) firstUnit_[o] = i;
    ends[o].push_back(units[i].end);
    outputOf_.push_back(o);
  }
  unitsLeft_.reset(new std::atomic<int64_t>[plan.outputs.size()]);
  for (size_t o = 0; o < plan.outputs.size(); o++) {
    unitCount_[o] = static_cast<int64_t>(ends[o].size());
    unitsLeft_[o].store(unitCount_[o]);
    writeBehind_.push_back(std::make_unique<WriteBehind>(fds_[o], std::move(ends[o])));
  }
}

bool OutputCompletion::written(size_t i) {
  const int o = outputOf_[i];
  writeBehind_[o]->written(i - firstUnit_[o], plan_.outputs[o].path);
  return unitsLeft_[o].fetch_sub(1) == 1;
}

void OutputCompletion::finish(int o) {
  if (::fsync(fds_[o]) != 0) throwErrno("cannot flush", plan_.outputs[o].path, errno);
  writeBehind_[o]->finished();
}

bool OutputCompletion::finishNextEmpty() {
  for (;;) {
    size_t o = nextEmpty_.fetch_add(1);
    if (o >= fds_.size()) return false;
    if (unitCount_[o] == 0) {
      finish(static_cast<int>(o));
      return true;
    }
  }
}

}  // namespace mcore
