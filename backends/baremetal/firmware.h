/* hvbios bare-metal firmware: the platform's state.
 *
 * The firmware boots on a PC through the PVH entry (QEMU's -kernel, Xen's
 * direct boot), loads the guest ELF it was given as the first boot module,
 * and serves the hvbios ABI (docs/abi.md) to it from the hypercall page.
 * Everything runs at CPL 0 on the firmware's own page tables, with
 * interrupts off; see README.md for the design. Layers, each using only
 * those before it: cpu.h; this file (the machine: CPUs, RAM, clocks);
 * devices.h (drivers); services/services.h (the ABI); boot.c. */
#ifndef HVBIOS_BAREMETAL_FIRMWARE_H_
#define HVBIOS_BAREMETAL_FIRMWARE_H_

#include <stddef.h>
#include <stdint.h>

#include "common/format.h"
#include "common/memmap.h"
#include "common/string.h"
#include "cpu.h"
#include "hvbios/abi/abi.h"

/* CPUs: vCPU i is cpus[i]; vCPU 0 is the boot CPU. */
#define FW_MAX_CPUS 64
#define FW_STACK_SIZE 4096 /* hcpage.S shifts by 12 */
struct fw_cpu {
  volatile uint32_t state; /* HVB_VCPU_STOPPED or HVB_VCPU_RUNNING */
  int started;             /* ever: it has a local APIC to send events to */
  volatile int coming_up;  /* between INIT-SIPI and its local APIC's setup */
  /* Where vcpu.start sends it next. */
  uint64_t entry, stack, arg, cr3;
};
/* vCPU i's local APIC id; ~0 (the broadcast id, no CPU's) past the last.
 * hcpage.S searches it for the calling CPU. */
extern uint32_t fw_apic_ids[FW_MAX_CPUS];

struct fw_platform {
  uint32_t cpu_count;
  struct fw_cpu cpus[FW_MAX_CPUS];
  uint64_t boot_tables; /* the guest's boot page tables (cr3 0) */
  uint64_t tsc_hz;
  uint64_t tsc_at_start;
  uint64_t ns_mul; /* ns per TSC tick, as ns_mul / 2^32 */
  uint64_t wall_ns_at_start;
  int has_rdrand;
  int debug_exit; /* QEMU's isa-debug-exit is there (hvbios-qemu says so) */
  struct hvb_ram_range ram[16]; /* [base, end), 4 KiB aligned, sorted */
  uint32_t ram_count;
  const struct hvb_mem_region *map; /* the guest's memory map */
  uint32_t map_count;
};
extern struct fw_platform g_platform;

/* This CPU's vCPU id; only on its firmware stack (in a hypercall, or
 * ap_main). */
uint32_t this_cpu(void);

/* The rule for every buffer a hypercall names (docs/abi.md 3.1): true if
 * it lies entirely in the guest's own RAM by the memory map, never in the
 * firmware's memory, page 0 or a hole. */
int fw_guest_owns(uint64_t address, uint64_t length);
/* True if [address, address + length) lies in RAM (anyone's), without
 * wrapping; length 0 never does. */
int fw_ram_contains(uint64_t address, uint64_t length);

/* Nanoseconds since the firmware started (clock.monotonic), and since the
 * Unix epoch (clock.wallclock). */
uint64_t clock_monotonic_ns(void);
uint64_t clock_wall_ns(void);

/* Enters the guest on this CPU: long mode on page tables `cr3`, the
 * firmware's GDT, interrupts off, rip/rsp/rdi as given (docs/abi.md 2.2). */
__attribute__((noreturn)) void enter_guest(uint64_t cr3, uint64_t rip,
                                           uint64_t rsp, uint64_t rdi);

#endif /* HVBIOS_BAREMETAL_FIRMWARE_H_ */
