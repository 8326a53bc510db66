/*
 * hvbios ABI, umbrella header: everything a guest, the firmware or the host
 * needs to speak the hypercall ABI. Freestanding C (only <stdint.h> and
 * <stddef.h>). Specification: docs/abi.md.
 */
#ifndef HVBIOS_ABI_ABI_H_
#define HVBIOS_ABI_ABI_H_

#include "hvbios/abi/boot.h"
#include "hvbios/abi/clock.h"
#include "hvbios/abi/hypercall.h"
#include "hvbios/abi/net.h"
#include "hvbios/abi/ring.h"
#include "hvbios/abi/status.h"

#endif /* HVBIOS_ABI_ABI_H_ */
