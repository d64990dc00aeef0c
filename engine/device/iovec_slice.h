// SliceIovec: the iovecs that cover bytes [offset, offset+length) of a
// caller's buffer list, pointing into the same memory (no copy).
// Pure; `out` is cleared first and keeps its capacity (no allocation once
// warm).
#ifndef MPIO_ENGINE_DEVICE_IOVEC_SLICE_H_
#define MPIO_ENGINE_DEVICE_IOVEC_SLICE_H_

#include <sys/uio.h>

#include <cstdint>
#include <vector>

namespace mpio {

inline void SliceIovec(const struct iovec* iov, int iovcnt, uint64_t offset,
                       uint64_t length, std::vector<struct iovec>* out) {
  out->clear();
  for (int i = 0; i < iovcnt && length > 0; i++) {
    uint64_t len = iov[i].iov_len;
    if (offset >= len) {
      offset -= len;
      continue;
    }
    uint64_t take = len - offset;
    if (take > length) take = length;
    out->push_back({static_cast<char*>(iov[i].iov_base) + offset,
                    static_cast<size_t>(take)});
    length -= take;
    offset = 0;
  }
}

}  // namespace mpio

#endif  // MPIO_ENGINE_DEVICE_IOVEC_SLICE_H_
