// Small text helpers for human output: sizes, durations, tables.
#ifndef MPIO_MPIO_FORMAT_H_
#define MPIO_MPIO_FORMAT_H_

#include <cstdint>
#include <string>
#include <vector>

namespace mpio::cli {

std::string HumanBytes(uint64_t bytes);  // "256.0 MiB"
// Left-aligned columns, two spaces apart; the first row is the header.
std::string Table(const std::vector<std::vector<std::string>>& rows);

}  // namespace mpio::cli

#endif  // MPIO_MPIO_FORMAT_H_
