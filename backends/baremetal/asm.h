/* Macros shared by the firmware's assembly files (entry.S, hcpage.S). */
#ifndef HVBIOS_BAREMETAL_ASM_H_
#define HVBIOS_BAREMETAL_ASM_H_

/* Long mode's control registers, from 16- or 32-bit code, on page tables
 * at \pml4 (below 4 GiB): CR4 = PAE, OSFXSR, OSXMMEXCPT; EFER |= LME, NXE;
 * CR0 = PE, MP, ET, NE, WP, PG (the guest's entry state, docs/abi.md 2.2).
 * Paging comes on with the CR0 write; a far jump to a 64-bit code segment
 * must follow. Clobbers eax, ecx, edx. */
.macro enable_long_mode pml4
    movl $\pml4, %eax
    mov %eax, %cr3
    movl $0x620, %eax
    mov %eax, %cr4
    movl $0xc0000080, %ecx
    rdmsr
    orl $0x900, %eax
    wrmsr
    movl $0x80010033, %eax
    mov %eax, %cr0
.endm

/* 64-bit code: the flat data selector (0x10 in fw_gdt) everywhere. */
.macro load_data_segments
    mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov %eax, %fs
    mov %eax, %gs
.endm

#endif  /* HVBIOS_BAREMETAL_ASM_H_ */
