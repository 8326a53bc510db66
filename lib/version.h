#ifndef HVBIOS_LIB_VERSION_H_
#define HVBIOS_LIB_VERSION_H_

#include <cstdint>

namespace hvbios {

// Version of this implementation (not of the ABI): major << 16 | minor.
inline constexpr uint32_t kImplementationVersion = (0u << 16) | 1u;
inline constexpr char kVersionString[] = "0.1";

}  // namespace hvbios

#endif  // HVBIOS_LIB_VERSION_H_
