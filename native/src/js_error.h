// Turning native failures into JS errors that carry a stable `code` (see lib/errors.ts).
#pragma once
#include <napi.h>

#include <string>

#include "native_error.h"

namespace mcore {

Napi::Error makeJsError(Napi::Env env, const std::string& code, const std::string& message);
[[noreturn]] void throwJs(Napi::Env env, const std::string& code, const std::string& message);
[[noreturn]] void throwJs(Napi::Env env, const NativeError& e);
/** A non-negative integer (exact in a double) from a JS value, else throws E_USAGE naming `what`. */
uint64_t requireIndex(Napi::Env env, const Napi::Value& v, const char* what);

}  // namespace mcore
