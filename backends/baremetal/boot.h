/* What boot.c uses from the rest of the boot path. */
#ifndef HVBIOS_BAREMETAL_BOOT_H_
#define HVBIOS_BAREMETAL_BOOT_H_

#include <stdint.h>

/* Fills g_platform's CPUs and fw_cpu_of_apic from the MADT (acpi.c) found
 * through the RSDP at `rsdp_paddr`: the enabled processors, the boot CPU
 * first (vCPU ids in that order). Without ACPI, or past FW_MAX_CPUS, only
 * what fits. */
void discover_cpus(uint64_t rsdp_paddr);

#endif /* HVBIOS_BAREMETAL_BOOT_H_ */
