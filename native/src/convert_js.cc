#include "convert_js.h"

#include "convert.h"
#include "dtype.h"
#include "js_error.h"

namespace mcore {

Napi::Value ConvertBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throwJs(env, "E_USAGE", "convertBuffer(bytes: Uint8Array, srcCode, dstCode, add?, mul?)");
  }
  Napi::Uint8Array in = info[0].As<Napi::Uint8Array>();
  uint64_t s = requireIndex(env, info[1], "source dtype code");
  uint64_t d = requireIndex(env, info[2], "output dtype code");
  if (s >= kDTypeCount || d >= kDTypeCount) throwJs(env, "E_USAGE", "unknown dtype code");
  DType src = static_cast<DType>(s), dst = static_cast<DType>(d);
  Affine a;
  if (info.Length() > 3 && info[3].IsNumber()) {
    a.hasAdd = true;
    a.add = static_cast<float>(info[3].As<Napi::Number>().DoubleValue());
  }
  if (info.Length() > 4 && info[4].IsNumber()) {
    a.hasMul = true;
    a.mul = static_cast<float>(info[4].As<Napi::Number>().DoubleValue());
  }
  RunFn fn = selectRun(src, dst, a.any());
  if (!fn) throwJs(env, "E_UNSUPPORTED", std::string("no conversion from ") + dtypeName(src) + " to " + dtypeName(dst));
  size_t n = in.ByteLength() / static_cast<size_t>(itemsize(src));
  if (n * static_cast<size_t>(itemsize(src)) != in.ByteLength()) throwJs(env, "E_USAGE", "byte length is not a whole number of elements");
  Napi::Uint8Array out = Napi::Uint8Array::New(env, n * static_cast<size_t>(itemsize(dst)));
  fn(in.Data(), itemsize(src), out.Data(), itemsize(dst), static_cast<int64_t>(n), a);
  return out;
}

}  // namespace mcore
