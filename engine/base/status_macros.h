// Small status helpers: Abseil 20220623 ships none.
//
// RETURN_IF_ERROR(expr): returns the absl::Status of `expr` when it is not OK.
// ASSIGN_OR_RETURN(lhs, expr): evaluates an absl::StatusOr, returns its status
// on error, else assigns the value to `lhs` (which may be a declaration).
#ifndef MPIO_ENGINE_BASE_STATUS_MACROS_H_
#define MPIO_ENGINE_BASE_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define MPIO_CONCAT_INNER(a, b) a##b
#define MPIO_CONCAT(a, b) MPIO_CONCAT_INNER(a, b)

#define RETURN_IF_ERROR(expr)                    \
  do {                                           \
    ::absl::Status mpio_status_ = (expr);        \
    if (!mpio_status_.ok()) return mpio_status_; \
  } while (0)

#define ASSIGN_OR_RETURN(lhs, expr) \
  MPIO_ASSIGN_OR_RETURN_IMPL(MPIO_CONCAT(mpio_statusor_, __LINE__), lhs, expr)

#define MPIO_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) return tmp.status();              \
  lhs = std::move(tmp).value()

#endif  // MPIO_ENGINE_BASE_STATUS_MACROS_H_
