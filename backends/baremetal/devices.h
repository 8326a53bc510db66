/* The PC devices the firmware drives, one file each: the 16550 UART
 * (uart.c), the PIT and CMOS RTC (time.c), the local and I/O APICs and the
 * legacy PIC (apic.c), the ATA disks (ata.c), QEMU's fw_cfg (fw_cfg.c),
 * and the ways out of the machine (machine.c). Drivers know nothing of the
 * ABI. */
#ifndef HVBIOS_BAREMETAL_DEVICES_H_
#define HVBIOS_BAREMETAL_DEVICES_H_

#include <stddef.h>
#include <stdint.h>

/* ---- uart.c: COM1 */
void uart_init(void);
void uart_write(const char *bytes, size_t length);
/* Reads up to `length` bytes that have arrived; never waits. */
size_t uart_read(char *bytes, size_t length);
int uart_has_input(void);
/* The UART raises (or stops raising) its IRQ when input arrives. */
void uart_input_interrupt(int enable);
#define UART_IRQ 4 /* COM1's ISA IRQ */
void fw_printf(const char *format, ...) __attribute__((format(printf, 1, 2)));

/* ---- time.c */
/* TSC frequency against the PIT; 0 if it could not be measured. */
uint64_t tsc_calibrate(void);
/* Wall-clock seconds since the Unix epoch, from the CMOS RTC. */
uint64_t rtc_read_unix_seconds(void);
void delay_us(uint64_t us);

/* ---- apic.c: local APIC (xAPIC, MMIO), I/O APIC and legacy PIC.
 * interrupts_init() once, on the boot CPU; lapic_init_this_cpu() on every
 * CPU. */
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
/* One-shot timer raising `vector` after `ns` (0: cancel). */
void lapic_timer_arm(uint64_t ns, uint8_t vector);
/* Routes ISA IRQ `irq` through the I/O APIC to `vector` on the CPU with
 * APIC id `apic_id`, masked or not. */
void ioapic_route(uint32_t irq, uint32_t apic_id, uint8_t vector, int masked);

/* ---- ata.c: disks on the IDE channels, ATA PIO with polling */
#define ATA_MAX_DISKS 4
/* Finds the disks (once, on the boot CPU); `read_only[i]` says which are
 * read-only, in order (fw_cfg's opt/org.hvbios/disks). */
void ata_init(const char *read_only_flags, int flag_count);
uint32_t ata_disk_count(void);
uint64_t ata_sectors(uint32_t disk);
int ata_read_only(uint32_t disk);
/* 0, or -1 on a device error. ata_write() with `src` null writes zeros. */
int ata_read(uint32_t disk, uint64_t lba, uint32_t count, void *dst);
int ata_write(uint32_t disk, uint64_t lba, uint32_t count, const void *src);
int ata_flush(uint32_t disk);

/* ---- fw_cfg.c: QEMU's firmware configuration device */
/* Reads fw_cfg file `name` into `dst` (at most `cap` bytes); its length,
 * or -1 if there is no fw_cfg or no such file. */
int fw_cfg_file(const char *name, char *dst, size_t cap);

/* ---- machine.c: leaving the machine */
/* Messages for the machine's owner (hvbios-qemu): "shutdown N",
 * "reboot", "fault ...", written to the debug console port. Then the
 * machine is left: on QEMU through isa-debug-exit, elsewhere by halting. */
__attribute__((noreturn)) void machine_exit(const char *status_line);
__attribute__((noreturn)) void machine_reboot(void);

#endif /* HVBIOS_BAREMETAL_DEVICES_H_ */
