#include "mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "native_error.h"
#include "js_error.h"

namespace mcore {

MappedFile::MappedFile(const std::string& path) : path_(path) {
  fd_ = UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd_.valid()) throwErrno("cannot open", path, errno);
  struct stat st;
  if (::fstat(fd_.get(), &st) != 0) {
    int err = errno;
    close();
    throwErrno("cannot stat", path, err);
  }
  if (!S_ISREG(st.st_mode)) {
    close();
    throw NativeError("E_IO", "not a regular file: " + path);
  }
  size_ = static_cast<uint64_t>(st.st_size);
  if (size_ == 0) return;  // mmap refuses length 0; an empty file has no bytes to reach anyway
  void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd_.get(), 0);
  if (p == MAP_FAILED) {
    int err = errno;
    close();
    throwErrno("cannot map", path, err);
  }
  data_ = static_cast<uint8_t*>(p);
}

MappedFile::~MappedFile() { close(); }

void MappedFile::close() {
  if (data_) ::munmap(data_, size_);
  fd_.reset();
  data_ = nullptr;
}

const uint8_t* MappedFile::range(uint64_t offset, uint64_t length) const {
  if (offset > size_ || length > size_ - offset) {
    throw NativeError("E_FORMAT", "byte range [" + std::to_string(offset) + ", +" + std::to_string(length) +
                                      ") lies outside the " + std::to_string(size_) + "-byte file " + path_);
  }
  if (!fd_.valid()) throw NativeError("E_IO", "file is closed: " + path_);
  static const uint8_t kEmpty[8] = {};
  return data_ ? data_ + offset : kEmpty;
}

void MappedFile::advise(uint64_t offset, uint64_t length, Advice advice) const {
  if (!data_ || offset >= size_ || length == 0) return;
  if (length > size_ - offset) length = size_ - offset;
  static const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  uint64_t begin = offset / page * page;
  uint64_t end = offset + length;
  int a = MADV_NORMAL;
  switch (advice) {
    case Advice::Normal: a = MADV_NORMAL; break;
    case Advice::Sequential: a = MADV_SEQUENTIAL; break;
    case Advice::Random: a = MADV_RANDOM; break;
    case Advice::WillNeed: a = MADV_WILLNEED; break;
    case Advice::DontNeed: a = MADV_DONTNEED; break;
    case Advice::Populate:
#ifdef MADV_POPULATE_READ
      // map the range's pages in one call instead of one page fault per 4 KiB (Linux 5.14+)
      if (::madvise(data_ + begin, end - begin, MADV_POPULATE_READ) == 0) return;
#endif
      a = MADV_WILLNEED;
      break;
  }
  ::madvise(data_ + begin, end - begin, a);  // a hint: failure changes nothing we rely on
}

// ---- JS wrapper ----

Napi::Function MappedFileWrap::Init(Napi::Env env) {
  return DefineClass(env, "MappedFile",
                     {InstanceAccessor<&MappedFileWrap::Size>("size"), InstanceMethod<&MappedFileWrap::Read>("read"),
                      InstanceMethod<&MappedFileWrap::Advise>("advise"), InstanceMethod<&MappedFileWrap::Close>("close")});
}

MappedFileWrap::MappedFileWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<MappedFileWrap>(info) {
  if (info.Length() < 1 || !info[0].IsString()) throwJs(info.Env(), "E_USAGE", "MappedFile(path): path must be a string");
  try {
    file_ = std::make_unique<MappedFile>(info[0].As<Napi::String>().Utf8Value());
  } catch (const NativeError& e) {
    throwJs(info.Env(), e);
  }
}

MappedFile& MappedFileWrap::file(const Napi::Env& env) {
  if (!file_) throwJs(env, "E_IO", "MappedFile is closed");
  return *file_;
}

Napi::Value MappedFileWrap::Size(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(file(info.Env()).size()));
}

Napi::Value MappedFileWrap::Read(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  MappedFile& f = file(env);
  uint64_t offset = requireIndex(env, info[0], "offset");
  uint64_t length = requireIndex(env, info[1], "length");
  try {
    const uint8_t* p = f.range(offset, length);
    return Napi::Buffer<uint8_t>::Copy(env, p, static_cast<size_t>(length));
  } catch (const NativeError& e) {
    throwJs(env, e);
  }
}

Napi::Value MappedFileWrap::Advise(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  MappedFile& f = file(env);
  uint64_t offset = requireIndex(env, info[0], "offset");
  uint64_t length = requireIndex(env, info[1], "length");
  std::string a = info[2].IsString() ? info[2].As<Napi::String>().Utf8Value() : "";
  MappedFile::Advice advice;
  if (a == "normal") advice = MappedFile::Advice::Normal;
  else if (a == "sequential") advice = MappedFile::Advice::Sequential;
  else if (a == "random") advice = MappedFile::Advice::Random;
  else if (a == "willneed") advice = MappedFile::Advice::WillNeed;
  else if (a == "dontneed") advice = MappedFile::Advice::DontNeed;
  else throwJs(env, "E_USAGE", "advice must be one of normal, sequential, random, willneed, dontneed");
  f.advise(offset, length, advice);
  return env.Undefined();
}

Napi::Value MappedFileWrap::Close(const Napi::CallbackInfo& info) {
  file_.reset();
  return info.Env().Undefined();
}

}  // namespace mcore
