// Big-endian field access for SCSI byte layouts (CDBs, parameter data).
//
// Internal to engine/scsi. The readers do NOT check bounds: every parser
// checks the span length first and only then reads, so that each check can
// name the field it protects in its error message. Pure functions, any thread.
#ifndef MPIO_ENGINE_SCSI_BYTES_H_
#define MPIO_ENGINE_SCSI_BYTES_H_

#include <cstddef>
#include <cstdint>
#include <span>

namespace mpio::scsi::internal {

inline uint16_t Be16(std::span<const uint8_t> d, size_t off) {
  return static_cast<uint16_t>((d[off] << 8) | d[off + 1]);
}

inline uint32_t Be32(std::span<const uint8_t> d, size_t off) {
  return (static_cast<uint32_t>(d[off]) << 24) |
         (static_cast<uint32_t>(d[off + 1]) << 16) |
         (static_cast<uint32_t>(d[off + 2]) << 8) |
         static_cast<uint32_t>(d[off + 3]);
}

inline uint64_t Be64(std::span<const uint8_t> d, size_t off) {
  return (static_cast<uint64_t>(Be32(d, off)) << 32) | Be32(d, off + 4);
}

inline void PutBe16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

inline void PutBe32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (24 - 8 * i));
}

inline void PutBe64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (56 - 8 * i));
}

}  // namespace mpio::scsi::internal

#endif  // MPIO_ENGINE_SCSI_BYTES_H_
