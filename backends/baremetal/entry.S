#include "asm_macros.inc"

/* The firmware's entry: the PVH boot protocol (Xen's "HVM direct boot",
 * which QEMU's -kernel also implements). The loader puts our segments at
 * their physical addresses and enters pvh_entry in 32-bit protected mode,
 * paging off, interrupts off, with ebx = the physical address of its
 * struct hvm_start_info. We switch to long mode on a temporary identity map
 * of the first GiB and call fw_main(start_info) in C, on the 64 KiB below
 * the firmware that later becomes the guest's boot stack (main.c). */

/* The ELF note that marks us as PVH-bootable: XEN_ELFNOTE_PHYS32_ENTRY
 * (type 18), owner "Xen", the 32-bit physical entry point. */
    .section .note.Xen, "a"
    .p2align 2
    .long 4             /* namesz */
    .long 4             /* descsz */
    .long 18            /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .long pvh_entry
    .p2align 2

    .section .text.entry, "ax"
    .code32
    .globl pvh_entry
pvh_entry:
    cli
    cld
    mov %ebx, %esi                      /* start_info, kept for fw_main */
    mov $0x80000, %esp                  /* the guest boot stack, unused yet */

    /* Identity-map the first GiB with 2 MiB pages: enough for the
     * firmware, the loader's data and the switch. main.c builds the real
     * tables. */
    mov $early_pd, %edi
    xor %ecx, %ecx
1:  mov %ecx, %eax
    shl $21, %eax
    or $0x83, %eax                      /* present, writable, 2 MiB */
    mov %eax, (%edi,%ecx,8)
    movl $0, 4(%edi,%ecx,8)
    inc %ecx
    cmp $512, %ecx
    jne 1b
    mov $early_pd, %eax
    or $3, %eax
    mov %eax, early_pdpt
    mov $early_pdpt, %eax
    or $3, %eax
    mov %eax, early_pml4
    enable_long_mode early_pml4
    lgdt gdt_descriptor
    ljmp $0x08, $long_mode

    .code64
long_mode:
    load_data_segments
    mov $0x80000, %rsp
    fninit                              /* x87 and SSE in their reset state */
    mov %esi, %edi
    call fw_main
2:  cli
    hlt
    jmp 2b

/* The GDT the firmware and the guest both run on (docs/abi.md 2.2:
 * selector 0x08 64-bit code, 0x10 data). In PLATFORM memory: a guest that
 * never loads its own GDT keeps using it. */
    .section .rodata
    .p2align 4
    .globl fw_gdt, fw_gdt_end
fw_gdt:
    .quad 0
    .quad 0x00af9a000000ffff            /* 0x08: 64-bit code, DPL 0 */
    .quad 0x00cf92000000ffff            /* 0x10: data, DPL 0 */
fw_gdt_end:
gdt_descriptor:
    .word fw_gdt_end - fw_gdt - 1
    .long fw_gdt

    .section .bss
    .p2align 12
early_pml4: .skip 4096
early_pdpt: .skip 4096
early_pd:   .skip 4096

    .section .note.GNU-stack, "", @progbits
