#include "js_error.h"

#include <cmath>

namespace mcore {

Napi::Error makeJsError(Napi::Env env, const std::string& code, const std::string& message) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Value().Set("code", Napi::String::New(env, code));
  return e;
}

void throwJs(Napi::Env env, const std::string& code, const std::string& message) {
  throw makeJsError(env, code, message);
}

void throwJs(Napi::Env env, const NativeError& e) { throwJs(env, e.code(), e.what()); }

uint64_t requireIndex(Napi::Env env, const Napi::Value& v, const char* what) {
  if (!v.IsNumber()) throwJs(env, "E_USAGE", std::string(what) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d > 9007199254740991.0 || std::floor(d) != d) {
    throwJs(env, "E_USAGE", std::string(what) + " must be a non-negative safe integer");
  }
  return static_cast<uint64_t>(d);
}

}  // namespace mcore
