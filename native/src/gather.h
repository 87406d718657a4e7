// Gathering part of one piece into an output buffer: the piece's elements whose output positions fall in a
// window [e0, e1) of its tensor, found by binary search (positions grow with the element index after
// normalisation), copied and converted row by row, with cache-blocked tiles for transposed sources.
#pragma once
#include <cstdint>

#include "plan.h"

namespace mcore {

/** Output position (tensor element) of the piece's k-th element in row-major order. */
int64_t outputPosition(const Piece& pc, int64_t k);
/** The smallest k in [0, numel] whose output position is ≥ e. */
int64_t firstAtOrAfter(const Piece& pc, int64_t e);
/** Writes elements [lo, hi) of the piece into `window`, whose first byte is tensor element `e0`. */
void gatherRange(const Piece& pc, int64_t lo, int64_t hi, uint8_t* window, int64_t e0);

}  // namespace mcore
