// `features()`: what this build of the addon can do on this machine.
#pragma once
#include <napi.h>

namespace mcore {

/** The addon's version, from package.json at build time when known. */
extern const char* const kVersion;

Napi::Value Features(const Napi::CallbackInfo& info);

}  // namespace mcore
