// Status propagation helpers. Abseil 20220623 ships none; these are the
// project's single definition.
#ifndef HVBIOS_LIB_STATUS_MACROS_H_
#define HVBIOS_LIB_STATUS_MACROS_H_

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

#define HVB_STATUS_CONCAT_INNER_(a, b) a##b
#define HVB_STATUS_CONCAT_(a, b) HVB_STATUS_CONCAT_INNER_(a, b)

// Returns from the enclosing function if `expr` (an absl::Status) is not OK.
#define RETURN_IF_ERROR(expr)                    \
  do {                                           \
    if (::absl::Status hvb_status_ = (expr);     \
        ABSL_PREDICT_FALSE(!hvb_status_.ok())) { \
      return hvb_status_;                        \
    }                                            \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, MakeX());` assigns the value of an
// absl::StatusOr or returns its status from the enclosing function.
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL_(HVB_STATUS_CONCAT_(hvb_statusor_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                           \
  if (ABSL_PREDICT_FALSE(!statusor.ok())) {         \
    return std::move(statusor).status();            \
  }                                                 \
  lhs = *std::move(statusor)

namespace hvbios {

// absl::ErrnoToStatus with the name of what failed, e.g. "KVM_CREATE_VM".
inline absl::Status ErrnoStatus(int errno_value, absl::string_view what) {
  return absl::ErrnoToStatus(errno_value, what);
}

}  // namespace hvbios

#endif  // HVBIOS_LIB_STATUS_MACROS_H_
