// `convertBuffer(bytes, srcCode, dstCode, add?, mul?)` → Uint8Array: the executor's cast kernels over a
// contiguous buffer, synchronously. For tests and for small conversions on the JS side.
#pragma once
#include <napi.h>

namespace mcore {

Napi::Value ConvertBuffer(const Napi::CallbackInfo& info);

}  // namespace mcore
