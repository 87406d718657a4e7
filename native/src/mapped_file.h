// A read-only memory map of a whole file. The executor maps each source once; JS gets the same class as
// `MappedFile` (size, bounded copies out, access hints).
#pragma once
#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "unique_fd.h"

namespace mcore {

class MappedFile {
 public:
  enum class Advice { Normal, Sequential, Random, WillNeed, DontNeed, Populate };

  /** Opens and maps `path`; throws NativeError E_IO (naming the file) when the OS refuses. */
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }
  /** Start of the mapping (nullptr for an empty file). */
  const uint8_t* data() const { return data_; }
  /** The bytes [offset, offset + length); throws E_FORMAT unless the range lies inside the file. */
  const uint8_t* range(uint64_t offset, uint64_t length) const;
  /** A hint to the kernel for [offset, offset + length) (page-aligned outward); failures are ignored. */
  void advise(uint64_t offset, uint64_t length, Advice advice) const;
  void close();

 private:
  std::string path_;
  UniqueFd fd_;
  uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
};

/** JS class `MappedFile(path)`: `.size`, `.read(offset, length)` → Buffer (a copy), `.advise(...)`, `.close()`. */
class MappedFileWrap : public Napi::ObjectWrap<MappedFileWrap> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit MappedFileWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value Size(const Napi::CallbackInfo& info);
  Napi::Value Read(const Napi::CallbackInfo& info);
  Napi::Value Advise(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  MappedFile& file(const Napi::Env& env);

  std::unique_ptr<MappedFile> file_;
};

}  // namespace mcore
