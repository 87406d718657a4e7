// Registration only: each exported function or class lives in its own file pair.
#include <napi.h>

#include "convert.h"
#include "convert_js.h"
#include "executor.h"
#include "feature_probe.h"
#include "mapped_file.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  mcore::initConvertTables();
  exports.Set("features", Napi::Function::New(env, mcore::Features, "features"));
  exports.Set("execute", Napi::Function::New(env, mcore::Execute, "execute"));
  exports.Set("convertBuffer", Napi::Function::New(env, mcore::ConvertBuffer, "convertBuffer"));
  exports.Set("MappedFile", mcore::MappedFileWrap::Init(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(mcore_export, Init)
