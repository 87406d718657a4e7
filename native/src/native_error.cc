#include "native_error.h"

#include <cstring>

namespace mcore {

void throwErrno(const std::string& what, const std::string& path, int err) {
  throw NativeError("E_IO", what + " " + path + ": " + std::strerror(err));
}

}  // namespace mcore
