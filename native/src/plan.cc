#include "plan.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "native_error.h"
#include "js_error.h"

namespace mcore {

namespace {

using i128 = __int128;
constexpr double kMaxSafe = 9007199254740991.0;

// ---- decoding (JS thread) ----

int64_t intAt(Napi::Env env, const double* rec, size_t i, const char* what, bool allowNegative = false) {
  double d = rec[i];
  if (!std::isfinite(d) || std::floor(d) != d || std::fabs(d) > kMaxSafe || (!allowNegative && d < 0)) {
    throwJs(env, "E_FORMAT", std::string("lowered plan: ") + what + " is not a valid integer");
  }
  return static_cast<int64_t>(d);
}

Napi::Float64Array float64Field(Napi::Env env, Napi::Object obj, const char* key) {
  Napi::Value v = obj.Get(key);
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    throwJs(env, "E_USAGE", std::string("lowered plan: ") + key + " must be a Float64Array");
  }
  return v.As<Napi::Float64Array>();
}

Napi::Array arrayField(Napi::Env env, Napi::Object obj, const char* key) {
  Napi::Value v = obj.Get(key);
  if (!v.IsArray()) throwJs(env, "E_USAGE", std::string("lowered plan: ") + key + " must be an array");
  return v.As<Napi::Array>();
}

}  // namespace

Plan decodePlan(Napi::Env env, Napi::Object obj, std::vector<Napi::Reference<Napi::Value>>& keepAlive) {
  Plan plan;
  Napi::Array sources = arrayField(env, obj, "sources");
  for (uint32_t i = 0; i < sources.Length(); i++) {
    Napi::Value v = sources.Get(i);
    if (!v.IsObject()) throwJs(env, "E_USAGE", "lowered plan: sources[" + std::to_string(i) + "] must be an object");
    Napi::Object s = v.As<Napi::Object>();
    Source src;
    Napi::Value path = s.Get("path");
    Napi::Value bytes = s.Get("bytes");
    if (path.IsString()) {
      src.path = path.As<Napi::String>().Utf8Value();
    } else if (bytes.IsTypedArray() && bytes.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array) {
      Napi::Uint8Array a = bytes.As<Napi::Uint8Array>();
      src.memory = true;
      src.bytes = a.Data();
      src.length = a.ByteLength();
      src.path = "<memory source #" + std::to_string(i) + ">";
      keepAlive.push_back(Napi::Persistent(bytes));
    } else {
      throwJs(env, "E_USAGE", "lowered plan: sources[" + std::to_string(i) + "] needs a path or Uint8Array bytes");
    }
    plan.sources.push_back(std::move(src));
  }

  Napi::Array outputs = arrayField(env, obj, "outputs");
  for (uint32_t i = 0; i < outputs.Length(); i++) {
    Napi::Object o = outputs.Get(i).As<Napi::Object>();
    Output out;
    Napi::Value path = o.Get("path");
    Napi::Value header = o.Get("header");
    if (!path.IsString() || !header.IsTypedArray() || header.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      throwJs(env, "E_USAGE", "lowered plan: outputs[" + std::to_string(i) + "] needs path, size and header (Uint8Array)");
    }
    out.path = path.As<Napi::String>().Utf8Value();
    out.size = requireIndex(env, o.Get("size"), "output size");
    Napi::Uint8Array h = header.As<Napi::Uint8Array>();
    out.header.assign(h.Data(), h.Data() + h.ByteLength());
    plan.outputs.push_back(std::move(out));
  }

  Napi::Float64Array tensors = float64Field(env, obj, "tensors");
  Napi::Array names = arrayField(env, obj, "tensorNames");
  if (tensors.ElementLength() % kTensorFields != 0 || tensors.ElementLength() / kTensorFields != names.Length()) {
    throwJs(env, "E_USAGE", "lowered plan: tensors and tensorNames disagree in length");
  }
  for (uint32_t i = 0; i < names.Length(); i++) {
    const double* rec = tensors.Data() + static_cast<size_t>(i) * kTensorFields;
    Tensor t;
    t.output = static_cast<int>(intAt(env, rec, 0, "tensor output", true));
    t.byteStart = static_cast<uint64_t>(intAt(env, rec, 1, "tensor byteStart"));
    t.byteLength = static_cast<uint64_t>(intAt(env, rec, 2, "tensor byteLength"));
    int64_t dt = intAt(env, rec, 3, "tensor dtype");
    if (!validDType(static_cast<int>(dt)) || dt >= kDTypeCount) throwJs(env, "E_FORMAT", "lowered plan: unknown tensor dtype code");
    t.dtype = static_cast<DType>(dt);
    Napi::Value n = names.Get(i);
    t.name = n.IsString() ? n.As<Napi::String>().Utf8Value() : "#" + std::to_string(i);
    plan.tensors.push_back(std::move(t));
  }

  Napi::Float64Array pieces = float64Field(env, obj, "pieces");
  const double* p = pieces.Data();
  size_t len = pieces.ElementLength();
  size_t at = 0;
  while (at < len) {
    if (len - at < kPieceFixedFields) throwJs(env, "E_FORMAT", "lowered plan: truncated piece record");
    const double* rec = p + at;
    Piece pc;
    pc.tensor = static_cast<int>(intAt(env, rec, 0, "piece tensor"));
    pc.source = static_cast<int>(intAt(env, rec, 1, "piece source", true));
    int64_t sd = intAt(env, rec, 2, "piece srcDtype");
    if (sd >= kDTypeCount) throwJs(env, "E_FORMAT", "lowered plan: unknown source dtype code");
    pc.srcDtype = static_cast<DType>(sd);
    pc.regionOffset = static_cast<uint64_t>(intAt(env, rec, 3, "piece regionOffset"));
    pc.regionLength = static_cast<uint64_t>(intAt(env, rec, 4, "piece regionLength"));
    pc.srcOffset = intAt(env, rec, 5, "piece srcOffset");
    pc.dstOffset = intAt(env, rec, 6, "piece dstOffset");
    int64_t flags = intAt(env, rec, 7, "piece flags");
    pc.affine.hasAdd = (flags & 1) != 0;
    pc.affine.hasMul = (flags & 2) != 0;
    pc.affine.add = static_cast<float>(rec[8]);
    pc.affine.mul = static_cast<float>(rec[9]);
    int64_t rank = intAt(env, rec, 10, "piece rank");
    if (rank > kMaxRank) throwJs(env, "E_UNSUPPORTED", "lowered plan: piece rank " + std::to_string(rank) + " exceeds " + std::to_string(kMaxRank));
    if (len - at < kPieceFixedFields + 3 * static_cast<size_t>(rank)) throwJs(env, "E_FORMAT", "lowered plan: truncated piece record");
    pc.rank = static_cast<int>(rank);
    for (int d = 0; d < pc.rank; d++) {
      pc.shape[d] = intAt(env, rec, kPieceFixedFields + d, "piece shape");
      pc.srcStrides[d] = intAt(env, rec, kPieceFixedFields + rank + d, "piece source stride", true);
      pc.dstStrides[d] = intAt(env, rec, kPieceFixedFields + 2 * rank + d, "piece output stride", true);
    }
    plan.pieces.push_back(pc);
    at += kPieceFixedFields + 3 * static_cast<size_t>(rank);
  }

  Napi::Value quants = obj.Get("quants");
  if (!quants.IsUndefined()) {
    Napi::Float64Array q = float64Field(env, obj, "quants");
    if (q.ElementLength() % kQuantFields != 0) throwJs(env, "E_FORMAT", "lowered plan: truncated quant record");
    for (size_t i = 0; i < q.ElementLength(); i += kQuantFields) {
      const double* rec = q.Data() + i;
      Quant qt;
      qt.tensor = static_cast<int>(intAt(env, rec, 0, "quant tensor"));
      qt.source = static_cast<int>(intAt(env, rec, 1, "quant source"));
      int64_t role = intAt(env, rec, 2, "quant role");
      int64_t kind = intAt(env, rec, 3, "quant kind");
      if (role > 1 || kind >= kQuantKindCount) throwJs(env, "E_FORMAT", "lowered plan: unknown quant role or kind");
      qt.scales = role == 1;
      qt.spec.kind = static_cast<QuantKind>(kind);
      qt.spec.rows = intAt(env, rec, 4, "quant rows");
      qt.spec.cols = intAt(env, rec, 5, "quant cols");
      qt.spec.blockRows = intAt(env, rec, 6, "quant blockRows");
      qt.spec.blockCols = intAt(env, rec, 7, "quant blockCols");
      int64_t sd = intAt(env, rec, 8, "quant scaleDtype");
      if (sd >= kDTypeCount) throwJs(env, "E_FORMAT", "lowered plan: unknown scale dtype code");
      qt.spec.scaleDtype = static_cast<DType>(sd);
      plan.quants.push_back(qt);
    }
  }
  return plan;
}

// ---- validation (any thread) ----

namespace {

[[noreturn]] void bad(const std::string& code, const std::string& msg, const Plan& plan, const Piece* pc) {
  if (pc) {
    const Tensor& t = plan.tensors[pc->tensor];
    throw NativeError(code, msg + " (tensor " + t.name + ", file " + (t.output >= 0 ? plan.outputs[t.output].path : "(quantization source)") +
                                (pc->source >= 0 ? ", source " + plan.sources[pc->source].path : std::string()) + ")");
  }
  throw NativeError(code, msg);
}

// Drops size-1 dims, orders dims by decreasing output stride, merges dims that are contiguous on both sides.
void normalise(Piece& pc) {
  int idx[kMaxRank];
  int r = 0;
  for (int d = 0; d < pc.rank; d++)
    if (pc.shape[d] != 1) idx[r++] = d;
  std::stable_sort(idx, idx + r, [&](int a, int b) { return pc.dstStrides[a] > pc.dstStrides[b]; });
  int64_t shape[kMaxRank], ss[kMaxRank], ds[kMaxRank];
  int n = 0;
  for (int i = 0; i < r; i++) {
    int d = idx[i];
    if (n > 0 && ds[n - 1] == pc.dstStrides[d] * pc.shape[d] && ss[n - 1] == pc.srcStrides[d] * pc.shape[d]) {
      shape[n - 1] *= pc.shape[d];
      ds[n - 1] = pc.dstStrides[d];
      ss[n - 1] = pc.srcStrides[d];
      continue;
    }
    shape[n] = pc.shape[d];
    ss[n] = pc.srcStrides[d];
    ds[n] = pc.dstStrides[d];
    n++;
  }
  if (n == 0) {  // a single element
    shape[0] = 1;
    ss[0] = 0;
    ds[0] = 1;
    n = 1;
  }
  pc.rank = n;
  for (int d = 0; d < n; d++) {
    pc.shape[d] = shape[d];
    pc.srcStrides[d] = ss[d];
    pc.dstStrides[d] = ds[d];
  }
}

void validatePiece(Plan& plan, Piece& pc) {
  if (pc.tensor < 0 || static_cast<size_t>(pc.tensor) >= plan.tensors.size()) bad("E_FORMAT", "lowered plan: piece names a missing tensor", plan, nullptr);
  const Tensor& t = plan.tensors[pc.tensor];
  if (pc.source < -1 || pc.source >= static_cast<int>(plan.sources.size())) bad("E_FORMAT", "piece names a missing source", plan, &pc);
  pc.run = selectRun(pc.srcDtype, t.dtype, pc.affine.any());
  if (!pc.run) {
    bad("E_UNSUPPORTED", std::string("no conversion from ") + dtypeName(pc.srcDtype) + " to " + dtypeName(t.dtype) +
                             (pc.affine.any() ? " with arithmetic" : ""), plan, &pc);
  }
  pc.tile = selectTile(pc.srcDtype, t.dtype, pc.affine.any());
  pc.srcSize = itemsize(pc.srcDtype);
  pc.dstSize = itemsize(t.dtype);

  i128 numel = 1;
  for (int d = 0; d < pc.rank; d++) {
    numel *= pc.shape[d];
    if (numel > static_cast<i128>(kMaxSafe)) bad("E_FORMAT", "piece has too many elements", plan, &pc);
  }
  pc.numel = static_cast<int64_t>(numel);
  if (pc.numel == 0) return;

  // source: the region lies in its storage and the view's reach lies in the region
  const uint8_t* region = nullptr;
  if (pc.source >= 0) {
    Source& s = plan.sources[pc.source];
    if (s.memory) {
      if (pc.regionOffset > s.length || pc.regionLength > s.length - pc.regionOffset)
        bad("E_FORMAT", "source region lies outside its " + std::to_string(s.length) + "-byte buffer", plan, &pc);
      region = s.bytes + pc.regionOffset;
    } else {
      try {
        region = s.file->range(pc.regionOffset, pc.regionLength);
      } catch (const NativeError& e) {
        bad("E_FORMAT", e.what(), plan, &pc);
      }
    }
    i128 lo = pc.srcOffset, hi = pc.srcOffset;
    for (int d = 0; d < pc.rank; d++) {
      i128 span = static_cast<i128>(pc.shape[d] - 1) * pc.srcStrides[d];
      (span < 0 ? lo : hi) += span;
    }
    i128 limit = static_cast<i128>(pc.regionLength / static_cast<uint64_t>(pc.srcSize));
    if (lo < 0 || hi >= limit) {
      bad("E_FORMAT", "source view reaches elements [" + std::to_string(static_cast<int64_t>(lo)) + ", " +
                          std::to_string(static_cast<int64_t>(hi)) + "] outside its region of " + std::to_string(static_cast<int64_t>(limit)) +
                          " elements", plan, &pc);
    }
  } else {
    static const uint8_t kZero[8] = {};
    region = kZero;
    pc.srcOffset = 0;
    for (int d = 0; d < pc.rank; d++) pc.srcStrides[d] = 0;
  }

  // output: inside the tensor, and no element written twice by this piece
  for (int d = 0; d < pc.rank; d++)
    if (pc.dstStrides[d] < 0) bad("E_FORMAT", "negative output stride", plan, &pc);
  normalise(pc);
  i128 extent = 0;  // span of the dims inside d
  for (int d = pc.rank - 1; d >= 0; d--) {
    if (static_cast<i128>(pc.dstStrides[d]) <= extent) bad("E_FORMAT", "piece writes some output elements more than once", plan, &pc);
    extent += static_cast<i128>(pc.shape[d] - 1) * pc.dstStrides[d];
  }
  i128 dmax = static_cast<i128>(pc.dstOffset) + extent;
  if (dmax >= t.numel) {
    bad("E_FORMAT", "piece writes output elements up to " + std::to_string(static_cast<int64_t>(dmax)) + " of a tensor of " +
                        std::to_string(t.numel), plan, &pc);
  }
  pc.dmin = pc.dstOffset;
  pc.dmax = static_cast<int64_t>(dmax);
  pc.srcBase = region + pc.srcOffset * pc.srcSize;
}

// A quant record: its tensors exist and have the roles it says, the sizes agree with the spec.
void validateQuant(Plan& plan, size_t qi) {
  Quant& q = plan.quants[qi];
  auto qbad = [&](const std::string& msg) -> void { throw NativeError("E_FORMAT", "lowered plan: quantized tensor: " + msg); };
  if (q.tensor < 0 || static_cast<size_t>(q.tensor) >= plan.tensors.size() || q.source < 0 || static_cast<size_t>(q.source) >= plan.tensors.size())
    qbad("names a missing tensor");
  Tensor& t = plan.tensors[q.tensor];
  const Tensor& src = plan.tensors[q.source];
  const QuantSpec& sp = q.spec;
  if (t.output < 0 || t.quant >= 0) qbad(t.name + " is not a plain output tensor");
  if (src.output >= 0 || src.dtype != DType::F32) qbad(t.name + ": its source must be a logical f32 tensor");
  if (sp.rows <= 0 || sp.cols <= 0 || sp.blockRows <= 0 || sp.blockCols <= 0) qbad(t.name + ": empty shape or block");
  if (static_cast<i128>(sp.rows) * sp.cols != src.numel) qbad(t.name + ": rows × cols differ from its source's elements");
  if (sp.kind == QuantKind::Int4 && (sp.cols % 2 != 0 || sp.blockCols % 2 != 0)) qbad(t.name + ": int4 needs an even number of columns per row and block");
  if (sp.scaleDtype != DType::F32 && sp.scaleDtype != DType::BF16 && sp.scaleDtype != DType::F16) qbad(t.name + ": scales must be f32, bf16 or f16");
  i128 expected = q.scales ? static_cast<i128>(sp.blockRowCount()) * sp.blocksPerRow() * itemsize(sp.scaleDtype)
                           : static_cast<i128>(sp.rows) * sp.valueRowBytes();
  if (expected != static_cast<i128>(t.byteLength)) qbad(t.name + ": holds " + std::to_string(t.byteLength) + " bytes, the quantization " + std::to_string(static_cast<int64_t>(expected)));
  q.granule = q.scales ? static_cast<uint64_t>(sp.blocksPerRow() * itemsize(sp.scaleDtype)) : static_cast<uint64_t>(sp.blockRows * sp.valueRowBytes());
  t.quant = static_cast<int>(qi);
}

}  // namespace

void validatePlan(Plan& plan) {
  for (Source& s : plan.sources)
    if (!s.memory && !s.file) s.file = std::make_unique<MappedFile>(s.path);

  for (size_t i = 0; i < plan.tensors.size(); i++) {
    Tensor& t = plan.tensors[i];
    if (t.output < -1 || t.output >= static_cast<int>(plan.outputs.size())) throw NativeError("E_FORMAT", "lowered plan: tensor " + t.name + " names a missing output");
    int size = itemsize(t.dtype);
    if (t.byteLength % static_cast<uint64_t>(size) != 0) throw NativeError("E_FORMAT", "tensor " + t.name + ": byte length is not a whole number of elements");
    t.numel = static_cast<int64_t>(t.byteLength / static_cast<uint64_t>(size));
    if (t.output >= 0) plan.outputs[t.output].tensors.push_back(static_cast<int>(i));
  }
  for (size_t qi = 0; qi < plan.quants.size(); qi++) validateQuant(plan, qi);
  // tensors tile each output's data section exactly, so every output byte is written once
  for (Output& o : plan.outputs) {
    std::sort(o.tensors.begin(), o.tensors.end(), [&](int a, int b) { return plan.tensors[a].byteStart < plan.tensors[b].byteStart; });
    uint64_t at = o.header.size();
    for (int ti : o.tensors) {
      const Tensor& t = plan.tensors[ti];
      if (t.byteStart != at) throw NativeError("E_FORMAT", "lowered plan: tensor " + t.name + " does not start where the previous one ends in " + o.path);
      at += t.byteLength;
    }
    if (at != o.size) throw NativeError("E_FORMAT", "lowered plan: tensors of " + o.path + " do not fill its " + std::to_string(o.size) + " bytes");
    plan.totalBytes += o.size;
  }

  std::vector<i128> covered(plan.tensors.size(), 0);
  for (size_t i = 0; i < plan.pieces.size(); i++) {
    Piece& pc = plan.pieces[i];
    validatePiece(plan, pc);
    if (pc.numel == 0) continue;
    covered[pc.tensor] += pc.numel;
    plan.tensors[pc.tensor].pieces.push_back(static_cast<int>(i));
  }
  for (size_t i = 0; i < plan.tensors.size(); i++) {
    Tensor& t = plan.tensors[i];
    if (t.quant >= 0) {
      if (!t.pieces.empty()) throw NativeError("E_FORMAT", "lowered plan: quantized tensor " + t.name + " also has pieces");
      continue;
    }
    if (covered[i] != t.numel) {
      throw NativeError("E_FORMAT", "tensor " + t.name + " in " + (t.output >= 0 ? plan.outputs[t.output].path : "(quantization source)") + ": its pieces hold " +
                                        std::to_string(static_cast<int64_t>(covered[i])) + " elements, the tensor " + std::to_string(t.numel));
    }
    std::sort(t.pieces.begin(), t.pieces.end(), [&](int a, int b) { return plan.pieces[a].dmin < plan.pieces[b].dmin; });
  }
}

}  // namespace mcore
