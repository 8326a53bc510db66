/* The PC devices the firmware drives, one file each: the 16550 UART
 * (uart.c), the screen (screen.c), the PIT and CMOS RTC (time.c), the
 * local and I/O APICs and the legacy PIC (apic.c), the disks (ata.c,
 * ahci.c, disks.c), PCI (pci.c), an Intel 8254x network card (e1000.c),
 * QEMU's fw_cfg (fw_cfg.c), and the ways out of the machine (machine.c).
 * Drivers know nothing of the ABI. */
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
/* ---- screen.c: the console on the boot loader's framebuffer */
struct fw_framebuffer; /* loader.h */
/* Draws on `fb` from now on (it must be mapped, and not RAM), clearing it
 * first; nothing if there is none or it cannot hold one character. */
void screen_init(const struct fw_framebuffer *fb);
void screen_write(const char *bytes, size_t length);
/* What the console shows: to COM1, and to the screen if there is one. */
void console_out(const char *bytes, size_t length);
/* Formats onto the console (common/format.c's formatting). */
void fw_printf(const char *format, ...) __attribute__((format(printf, 1, 2)));

/* ---- time.c */
/* TSC frequency against the PIT, or the ACPI PM timer without a PIT
 * (acpi_init first; *pm_timer_used says so); 0 if it could not be
 * measured. */
uint64_t tsc_calibrate(int *pm_timer_used);
/* Wall-clock seconds since the Unix epoch, from the CMOS RTC. */
uint64_t rtc_read_unix_seconds(void);
void delay_us(uint64_t us);

/* ---- apic.c: local APIC (x2APIC through MSRs where the CPU has it,
 * xAPIC through MMIO otherwise), I/O APIC and legacy PIC.
 * lapic_choose_mode() first and interrupts_init() once, on the boot CPU;
 * lapic_init_this_cpu() on every CPU. */
extern uint8_t fw_x2apic; /* the local APICs are in x2APIC mode */
void lapic_choose_mode(void);
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
/* Whether the I/O APIC can deliver to the CPU with APIC id `apic_id`: its
 * destination field has 8 bits, and the firmware programs no interrupt
 * remapping (which would widen it). */
int ioapic_reaches(uint32_t apic_id);
/* Routes ISA IRQ `irq` through the I/O APIC to `vector` on the CPU with
 * APIC id `apic_id`, masked or not; masked where it cannot reach it. */
void ioapic_route(uint32_t irq, uint32_t apic_id, uint8_t vector, int masked);
/* The 8259s' interrupt request registers (bit n: ISA IRQ n), which record
 * requests whether or not the IRQ is masked. */
uint16_t pic_requests(void);

/* ---- Disks: ATA disks on the IDE channels (ata.c: PIO, polled) and on
 * an AHCI controller (ahci.c: DMA, polled), as one list (disks.c): IDE
 * first, then AHCI in port order. */
#define FW_MAX_DISKS 4
struct fw_disk_driver {
  /* 0, or -1 on a device error; write() with `src` null writes zeros. */
  int (*read)(uint32_t unit, uint64_t lba, uint32_t count, void *dst);
  int (*write)(uint32_t unit, uint64_t lba, uint32_t count, const void *src);
  int (*flush)(uint32_t unit);
};
struct fw_disk {
  const struct fw_disk_driver *driver;
  uint32_t unit; /* the driver's number for it */
  uint64_t sectors;
  int read_only;
};
/* Each driver's probe appends the disks it finds to disks[*count] up to
 * `capacity`. */
void ata_probe(struct fw_disk *disks, uint32_t *count, uint32_t capacity);
void ahci_probe(struct fw_disk *disks, uint32_t *count, uint32_t capacity);
/* The AHCI driver's memory (command lists, FIS areas, command tables at
 * the base, a bounce buffer at AHCI_BOUNCE), which the guest's map gives to
 * the platform when there are AHCI disks. */
#define AHCI_DMA_BASE 0x30000
#define AHCI_BOUNCE 0x40000
#define AHCI_DMA_END 0x50000
int ahci_present(void);
/* Finds the disks (once, on the boot CPU); `read_only_flags[i]` is 'r'
 * for each read-only one, in order. */
void disks_init(const char *read_only_flags, int flag_count);
uint32_t disk_count(void);
const struct fw_disk *disk_get(uint32_t id);
int disk_read(uint32_t id, uint64_t lba, uint32_t count, void *dst);
int disk_write(uint32_t id, uint64_t lba, uint32_t count, const void *src);
int disk_flush(uint32_t id);

/* ---- pci.c: configuration space (mechanism #1) */
struct pci_function {
  uint8_t bus, device, function;
};
uint32_t pci_read32(struct pci_function f, uint32_t offset);
void pci_write32(struct pci_function f, uint32_t offset, uint32_t value);
void pci_write8(struct pci_function f, uint32_t offset, uint8_t value);
/* The first function whose vendor and device id (register 0, device id in
 * the high half) is one of ids[]: 1 and *found, or 0. */
int pci_find(const uint32_t *ids, int id_count, struct pci_function *found);
/* The first function of class, subclass and programming interface
 * `class_code` (register 8's top 24 bits): 1 and *found, or 0. */
int pci_find_class(uint32_t class_code, struct pci_function *found);
/* Stops every function's INTx (Interrupt Disable): PCI lines are shared,
 * and a device the firmware does not drive that a boot firmware left
 * interrupting (an SMBus controller, say) would hold the line of one it
 * does up for good, so that its edges never come. Drivers enable their
 * own again (pci_enable_intx) once the device is quiet. Once, before the
 * drivers start. */
void pci_silence_interrupts(void);
void pci_enable_intx(struct pci_function f);
/* Memory BAR `bar` (32-bit) decoding, with bus mastering on (INTx left as
 * it is): its address,
 * which it is given first if the boot firmware left it none; 0 if it is
 * not a 32-bit memory BAR or no address is left for it. */
uint64_t pci_enable_memory_bar(struct pci_function f, uint32_t bar);
/* The ISA IRQ the boot firmware routed the function's INTx to (register
 * 0x3c); on a PC's PIIX and ICH, also its I/O APIC input. */
uint8_t pci_interrupt_line(struct pci_function f);

/* ---- e1000.c: one Intel 8254x NIC (QEMU's e1000), polled */
/* Its DMA memory, which the guest's map gives to the platform. */
#define E1000_DMA_BASE 0x50000
#define E1000_DMA_END 0x65000
#define E1000_RX_SLOTS 32
#define E1000_TX_SLOTS 8
/* Finds and starts the first one (once, on the boot CPU): 1 if there is
 * one. */
int e1000_init(void);
int e1000_present(void);
void e1000_mac(uint8_t mac[6]);
int e1000_link_up(void);
/* The ISA IRQ it raises when it stores a frame (or is told to), until
 * e1000_clear_interrupt(): 0 or 0xff when it has none. */
uint8_t e1000_irq(void);
void e1000_clear_interrupt(void);
void e1000_raise_interrupt(void);
/* Queues `length` (14..1514) bytes: 0, or -1 when no transmit slot came
 * free in time. */
int e1000_send(const void *frame, uint32_t length);
/* The oldest frame received (its length, *frame pointing at it), or 0;
 * e1000_pop() drops it. */
uint32_t e1000_peek(const uint8_t **frame);
void e1000_pop(void);

/* ---- fw_cfg.c: QEMU's firmware configuration device */
/* Reads fw_cfg file `name` into `dst` (at most `cap` bytes); its length,
 * or -1 if there is no fw_cfg or no such file. */
int fw_cfg_file(const char *name, char *dst, size_t cap);

/* ---- machine.c: leaving the machine */
/* Messages for the machine's owner: "shutdown N", "reboot", "fault ...",
 * written to the debug console port for hvbios-qemu, or to the console
 * on a PC. Then the machine is left: on hvbios-qemu's QEMU through
 * isa-debug-exit; on a PC by ACPI S5 for a shutdown (halting if that
 * fails), by halting otherwise; reboot through the FADT's reset register
 * or the 8042. */
__attribute__((noreturn)) void machine_exit(const char *status_line);
/* Something the machine's owner should know that is not an end: a "note
 * ..." line on the debug console for hvbios-qemu, or on the console on a
 * PC. */
void machine_note(const char *text);
__attribute__((noreturn)) void machine_reboot(void);

#endif /* HVBIOS_BAREMETAL_DEVICES_H_ */
