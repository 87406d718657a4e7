// The lowered copy plan as the executor sees it (built by lib/plan/lower.ts), decoded from JS and validated
// in full before any byte is written.
//
// JS shape: { sources: ({path} | {bytes: Uint8Array})[], outputs: {path, size, header: Uint8Array}[],
//             tensors: Float64Array (kTensorFields per tensor), tensorNames: string[], pieces: Float64Array }
// Piece record: tensor, source (-1 = zeros), srcDtype, regionOffset, regionLength, srcOffset, dstOffset,
//               flags (1 = add, 2 = mul), add, mul, rank, shape[rank], srcStrides[rank], dstStrides[rank]
// Offsets and strides of a piece count elements (source dtype for src*, tensor dtype for dst*).
// Quantized outputs (optional `quants: Float64Array`, kQuantFields per record): tensor, source, role (0 = values,
// 1 = scales), kind (QuantKind), rows, cols, blockRows, blockCols, scaleDtype. `source` is a logical tensor
// (output -1, dtype F32, rows × cols elements) whose pieces describe the weight; it is never written, the
// quantized tensors (which have no pieces) are computed from it block row by block row (native/src/quant.h).
#pragma once
#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "convert.h"
#include "dtype.h"
#include "mapped_file.h"
#include "quant_core.h"

namespace mcore {

constexpr int kMaxRank = 16;
constexpr int kTensorFields = 4;  // output, byteStart, byteLength, dtype
constexpr int kPieceFixedFields = 11;
constexpr int kQuantFields = 9;

struct Source {
  std::string path;  // for messages; "<memory #i>" for buffers
  bool memory = false;
  const uint8_t* bytes = nullptr;  // memory sources (kept alive by the worker's references)
  uint64_t length = 0;
  std::unique_ptr<MappedFile> file;  // file sources, mapped by validatePlan
};

struct Output {
  std::string path;
  uint64_t size = 0;
  std::vector<uint8_t> header;
  std::vector<int> tensors;  // sorted by byteStart after validation
};

struct Tensor {
  int output = 0;  // -1: a logical source of quantized tensors, written to no file
  uint64_t byteStart = 0;
  uint64_t byteLength = 0;
  DType dtype = DType::F32;
  int64_t numel = 0;
  std::string name;
  std::vector<int> pieces;  // sorted by dmin after validation
  int quant = -1;           // index in Plan::quants when the tensor is quantized (it then has no pieces)
};

/** A quantized output tensor: its values or its scales, computed from the logical tensor `source`. */
struct Quant {
  int tensor = 0;
  int source = 0;
  bool scales = false;
  QuantSpec spec;
  /** output bytes of one block row: units cut at multiples of it so that no block row is computed twice */
  uint64_t granule = 1;
};

struct Piece {
  int tensor = 0;
  int source = -1;
  DType srcDtype = DType::F32;
  uint64_t regionOffset = 0;
  uint64_t regionLength = 0;
  int64_t srcOffset = 0;
  int64_t dstOffset = 0;
  Affine affine;
  int rank = 0;
  int64_t shape[kMaxRank] = {};
  int64_t srcStrides[kMaxRank] = {};
  int64_t dstStrides[kMaxRank] = {};
  // filled by validatePlan: dims normalised (size-1 dropped, sorted by dst stride, merged), so that the output
  // position grows strictly with the row-major element index
  int64_t numel = 0;
  int64_t dmin = 0, dmax = 0;     // output element range touched
  const uint8_t* srcBase = nullptr;  // address of source element 0 (srcOffset is folded in)
  int srcSize = 0, dstSize = 0;
  RunFn run = nullptr;
  TileFn tile = nullptr;
};

struct Plan {
  std::vector<Source> sources;
  std::vector<Output> outputs;
  std::vector<Tensor> tensors;
  std::vector<Piece> pieces;
  std::vector<Quant> quants;
  uint64_t totalBytes = 0;
};

/** Reads the JS object (JS thread). Buffers it references are pinned in `keepAlive`. Throws Napi errors. */
Plan decodePlan(Napi::Env env, Napi::Object obj, std::vector<Napi::Reference<Napi::Value>>& keepAlive);

/** Maps the sources and checks every piece, tensor and output (any thread). Throws NativeError. */
void validatePlan(Plan& plan);

}  // namespace mcore
