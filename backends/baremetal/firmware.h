/* hvbios bare-metal firmware: internal interfaces.
 *
 * The firmware boots on a PC through the PVH entry (QEMU's -kernel, Xen's
 * direct boot), loads the guest ELF it was given as the first boot module,
 * and serves the hvbios ABI (docs/abi.md) to it from the hypercall page.
 * Everything here runs at CPL 0 on the firmware's own page tables, with
 * interrupts off; see README.md for the design. */
#ifndef HVBIOS_BAREMETAL_FIRMWARE_H_
#define HVBIOS_BAREMETAL_FIRMWARE_H_

#include <stddef.h>
#include <stdint.h>

#include "common/format.h"
#include "common/memmap.h"
#include "common/string.h"
#include "hvbios/abi/abi.h"

/* ---- CPU and port I/O ---------------------------------------------------- */

static inline void outb(uint16_t port, uint8_t v) {
  __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}
static inline uint8_t inb(uint16_t port) {
  uint8_t v;
  __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}
static inline void outl(uint16_t port, uint32_t v) {
  __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}
static inline uint64_t rdtsc(void) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((uint64_t)hi << 32) | lo;
}
static inline void cpuid(uint32_t leaf, uint32_t *a, uint32_t *b, uint32_t *c,
                         uint32_t *d) {
  __asm__ volatile("cpuid"
                   : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d)
                   : "a"(leaf), "c"(0));
}
static inline uint32_t mmio_read32(uint64_t address) {
  return *(volatile uint32_t *)(uintptr_t)address;
}
static inline void mmio_write32(uint64_t address, uint32_t v) {
  *(volatile uint32_t *)(uintptr_t)address = v;
}

/* ---- Memory ---------------------------------------------------------------
 */

/* True if [address, address + length) lies in RAM, without wrapping;
 * length 0 never does. For the firmware's own checks (the boot module). */
int fw_ram_contains(uint64_t address, uint64_t length);
/* The rule for every buffer a hypercall names (docs/abi.md 3.1): true if
 * it lies entirely in the guest's own RAM by the memory map, never in the
 * firmware's memory, page 0 or a hole. */
int fw_guest_owns(uint64_t address, uint64_t length);

/* ---- Devices (platform.c) ------------------------------------------------ */

void uart_init(void);
void uart_write(const char *bytes, size_t length);
/* Reads up to `length` bytes that have arrived; never waits. */
size_t uart_read(char *bytes, size_t length);
int uart_has_input(void);
/* The UART raises (or stops raising) its IRQ when input arrives. */
void uart_input_interrupt(int enable);

void fw_printf(const char *format, ...) __attribute__((format(printf, 1, 2)));

/* TSC frequency against the PIT; 0 if it could not be measured. */
uint64_t tsc_calibrate(void);
/* Wall-clock seconds since the Unix epoch, from the CMOS RTC. */
uint64_t rtc_read_unix_seconds(void);

/* Local APIC (xAPIC, MMIO), I/O APIC and legacy PIC. interrupts_init()
 * once, on the boot CPU; lapic_init_this_cpu() on every CPU. */
void interrupts_init(uint64_t tsc_hz);
void lapic_init_this_cpu(void);
uint32_t lapic_id(void);
/* Raises `vector` on the CPU with APIC id `apic_id` (fixed, physical). */
void lapic_send_ipi(uint32_t apic_id, uint8_t vector);
/* Starts the CPU with APIC id `apic_id` at `page` (below 1 MiB) with
 * INIT-SIPI-SIPI (SDM Vol. 3A 8.4.4.1); it begins afresh, its local APIC
 * reset. */
void lapic_start_cpu(uint32_t apic_id, uint64_t page);
/* Acknowledges every interrupt in service on this CPU. */
void lapic_end_all_in_service(void);
void delay_us(uint64_t us);
/* One-shot timer raising `vector` after `ns` (0: cancel). */
void lapic_timer_arm(uint64_t ns, uint8_t vector);
/* Routes ISA IRQ `irq` through the I/O APIC to `vector` on the CPU with
 * APIC id `apic_id`, masked or not. */
void ioapic_route(uint32_t irq, uint32_t apic_id, uint8_t vector, int masked);

/* Messages for the machine's owner (hvbios-qemu): "shutdown N",
 * "reboot", "fault ...", written to the debug console port. Then the
 * machine is left: on QEMU through isa-debug-exit, elsewhere by halting. */
__attribute__((noreturn)) void machine_exit(const char *status_line);
__attribute__((noreturn)) void machine_reboot(void);

/* A hypercall's answer: rax = status, rdx = value. */
struct fw_result {
  int64_t status;
  uint64_t value;
};

/* ---- Disks (block.c) ------------------------------------------------------
 */

#define FW_MAX_QUEUES 16
/* Finds the ATA disks on the IDE channels (once, on the boot CPU). */
void disks_init(void);
uint32_t disk_count(void);
int disk_read_only(uint32_t dev);
uint32_t queue_count(void);
struct fw_result block_info(const uint64_t *a);
struct fw_result block_read(const uint64_t *a);
struct fw_result block_write(const uint64_t *a);
struct fw_result block_flush(const uint64_t *a);
struct fw_result block_discard(const uint64_t *a);
struct fw_result block_queue_setup(const uint64_t *a);
/* The notify entry: serves queue `id`'s new requests (under the lock). */
void block_queue_notify(uint64_t id);
/* Raises queue `id`'s completion event as routed (services.c). */
void event_queue_completed(uint32_t id);

/* ---- The clock ------------------------------------------------------------
 */

/* Nanoseconds since the firmware started (clock.monotonic). */
uint64_t clock_monotonic_ns(void);
uint64_t clock_wall_ns(void);

/* ---- Boot (main.c) and services (services.c) ----------------------------- */

/* CPUs: vCPU i is cpus[i]; vCPU 0 is the boot CPU. */
#define FW_MAX_CPUS 8
#define FW_STACK_SIZE 4096 /* hcpage.S shifts by 12 */
struct fw_cpu {
  uint32_t apic_id;
  volatile uint32_t state; /* HVB_VCPU_STOPPED or HVB_VCPU_RUNNING */
  int started;             /* ever: it has a local APIC to send events to */
  volatile int coming_up;  /* between INIT-SIPI and its local APIC's setup */
  /* Where vcpu.start sends it next. */
  uint64_t entry, stack, arg, cr3;
};
extern uint8_t fw_cpu_of_apic[256]; /* vCPU id by APIC id */
/* This CPU's vCPU id. */
uint32_t this_cpu(void);

struct fw_platform {
  uint32_t cpu_count;
  struct fw_cpu cpus[FW_MAX_CPUS];
  uint64_t boot_tables; /* the guest's boot page tables (cr3 0) */
  uint64_t tsc_hz;
  uint64_t tsc_at_start;
  uint64_t ns_mul; /* ns per TSC tick, as ns_mul / 2^32 */
  uint64_t wall_ns_at_start;
  int has_rdrand;
  struct hvb_ram_range ram[16]; /* [base, end), 4 KiB aligned, sorted */
  uint32_t ram_count;
  const struct hvb_mem_region *map; /* the guest's memory map */
  uint32_t map_count;
};
extern struct fw_platform g_platform;

/* Serves hypercall `fid` (rax) with arguments rdi, rsi, rdx, rcx, r8, r9.
 * Returned in rax:rdx by the SysV ABI, which is what the hypercall page's
 * return path hands to the guest. */
struct fw_result fw_dispatch(uint64_t fid, const uint64_t args[6]);

/* Enters the guest on this CPU: long mode on page tables `cr3`, the
 * firmware's GDT, interrupts off, rip/rsp/rdi as given (docs/abi.md 2.2). */
__attribute__((noreturn)) void enter_guest(uint64_t cr3, uint64_t rip,
                                           uint64_t rsp, uint64_t rdi);

#endif /* HVBIOS_BAREMETAL_FIRMWARE_H_ */
