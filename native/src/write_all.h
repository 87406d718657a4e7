// pwrite of a whole buffer at an offset: retries short writes and EINTR, throws NativeError (E_IO) naming the file.
#pragma once
#include <cstdint>
#include <string>

namespace mcore {

void pwriteAll(int fd, const uint8_t* data, uint64_t length, uint64_t offset, const std::string& path);

}  // namespace mcore
