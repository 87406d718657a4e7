#include "write_all.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "native_error.h"

namespace mcore {

void pwriteAll(int fd, const uint8_t* data, uint64_t length, uint64_t offset, const std::string& path) {
  while (length > 0) {
    // at most 1 GiB per call: Linux caps one write at about 2 GiB anyway
    ssize_t n = ::pwrite(fd, data, static_cast<size_t>(std::min<uint64_t>(length, 1ull << 30)), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      throwErrno("cannot write", path, errno);
    }
    // 0 bytes for a non-empty request makes no progress (a full device may report it): an error, not a retry
    if (n == 0) throw NativeError("E_IO", "cannot write " + path + ": the system wrote 0 of " + std::to_string(length) + " bytes at offset " + std::to_string(offset));
    data += n;
    offset += static_cast<uint64_t>(n);
    length -= static_cast<uint64_t>(n);
  }
}

}  // namespace mcore
