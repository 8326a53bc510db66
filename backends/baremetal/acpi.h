/* ACPI (acpi.c): what the firmware knows of the machine from its tables. */
#ifndef HVBIOS_BAREMETAL_ACPI_H_
#define HVBIOS_BAREMETAL_ACPI_H_

#include <stdint.h>

struct fw_acpi {
  uint32_t cpus_left_out; /* enabled processors past FW_MAX_CPUS, or with
                             APIC ids above 255 where the CPUs have no
                             x2APIC */
  /* FADT: PM1 control blocks, the SMI command port that enables ACPI
   * mode, the PM timer (3.579545 MHz, 24 or 32 bits) and the reset
   * register (space 0 memory, 1 I/O, 2 PCI bus 0). Ports 0: absent. */
  uint16_t pm1a_control, pm1b_control, smi_command, pm_timer;
  uint8_t acpi_enable;
  int pm_timer_32bit;
  int has_reset;
  uint8_t reset_space, reset_value;
  uint64_t reset_address;
  /* DSDT: \_S5's sleep types. */
  int has_s5;
  uint8_t slp_typ_a, slp_typ_b;
};
extern struct fw_acpi g_acpi;

/* Reads the tables through `rsdp` (a copy of the RSDP, or null) once, on
 * the boot CPU, and fills g_platform's CPUs and fw_apic_ids from the
 * MADT: the boot CPU first, then the other enabled processors in the
 * MADT's order (vCPU ids), at most FW_MAX_CPUS. */
void acpi_init(const uint8_t *rsdp);

/* Enter S5 (soft off) through PM1 control: return only if the machine
 * did not go off, or has no \_S5 or PM1 control block. */
void acpi_power_off(void);
/* Write the FADT's reset register: return only if the machine did not
 * reset, or has none. */
void acpi_reset(void);

#endif /* HVBIOS_BAREMETAL_ACPI_H_ */
