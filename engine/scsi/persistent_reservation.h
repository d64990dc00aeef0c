// PERSISTENT RESERVE IN parameter data parsers: READ KEYS and READ
// RESERVATION (SPC-4 6.15). The CDBs and the PR OUT parameter list are in
// cdb.h.
//
// Pure functions, any thread. A key list cut short by the allocation length
// is not an error (`truncated`, `needed_alloc_len`); malformed data returns
// InvalidArgument naming the field.
#ifndef MPIO_ENGINE_SCSI_PERSISTENT_RESERVATION_H_
#define MPIO_ENGINE_SCSI_PERSISTENT_RESERVATION_H_

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"

namespace mpio::scsi {

struct PrKeys {
  uint32_t generation = 0;     // PRGENERATION
  std::vector<uint64_t> keys;  // one per registered I_T nexus
  bool truncated = false;
  uint32_t needed_alloc_len = 0;  // 8 + ADDITIONAL LENGTH
};
absl::StatusOr<PrKeys> ParsePrReadKeys(std::span<const uint8_t> data);

struct PrReservation {
  uint32_t generation = 0;
  bool reserved = false;  // false: no persistent reservation is held
  uint64_t key = 0;       // the holder's reservation key
  uint8_t scope = 0;      // 0 LU_SCOPE
  uint8_t type = 0;       // PrType value (cdb.h)
};
absl::StatusOr<PrReservation> ParsePrReadReservation(
    std::span<const uint8_t> data);

}  // namespace mpio::scsi

#endif  // MPIO_ENGINE_SCSI_PERSISTENT_RESERVATION_H_
