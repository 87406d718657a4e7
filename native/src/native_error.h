// A failure inside native code, carrying one of the stable codes of lib/errors.ts (E_IO, E_FORMAT, ...).
// Worker threads throw it; the JS side turns it into an Error with `code`.
#pragma once
#include <stdexcept>
#include <string>

namespace mcore {

class NativeError : public std::runtime_error {
 public:
  NativeError(std::string code, const std::string& message) : std::runtime_error(message), code_(std::move(code)) {}
  const std::string& code() const { return code_; }

 private:
  std::string code_;
};

// "E_IO: <what> <path>: <strerror(errno)>"
[[noreturn]] void throwErrno(const std::string& what, const std::string& path, int err);

}  // namespace mcore
