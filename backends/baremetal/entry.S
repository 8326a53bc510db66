#include "asm_macros.inc"

/* The firmware's entries: two boot protocols, one path.
 *
 * - PVH (Xen's "HVM direct boot", which QEMU's -kernel implements): the
 *   loader enters pvh_entry with ebx = its struct hvm_start_info.
 * - Multiboot2 (GRUB's multiboot2 command, on BIOS and UEFI PCs): the
 *   loader enters mb2_entry with eax = 0x36d76289, ebx = its information
 *   structure (Multiboot2 specification 3.2). On UEFI, GRUB has exited
 *   boot services by then: the header asks for no EFI entry.
 *
 * Both leave us in 32-bit protected mode, paging and interrupts off, our
 * segments at their physical addresses. We switch to long mode on a
 * temporary identity map of the first GiB and call fw_main(info, magic) in
 * C on a stack inside the image (the loader's data may lie anywhere in
 * low memory, so nothing outside the image is written before fw_main has
 * copied what it needs; loader.c). */

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

/* The Multiboot2 header (specification 3.1): in the first 32 KiB of the
 * file, 8-byte aligned, tags 8-byte aligned. The ELF's segments say where
 * we load; the entry address tag names mb2_entry; modules (the guest
 * image) come page-aligned; a linear framebuffer of 32 bits a pixel is
 * welcome, at any size, for the screen console (screen.c; optional: UEFI
 * has no text mode, and without one the console is serial only). */
#define MB2_HEADER_MAGIC 0xe85250d6
    .section .multiboot2, "a"
    .p2align 3
mb2_header:
    .long MB2_HEADER_MAGIC
    .long 0                             /* architecture: i386 */
    .long mb2_header_end - mb2_header
    .long 0x100000000 - (MB2_HEADER_MAGIC + (mb2_header_end - mb2_header))
    .word 3, 0                          /* entry address */
    .long 12
    .long mb2_entry
    .long 0                             /* padding to 8 */
    .word 6, 0                          /* module alignment */
    .long 8
    .word 5, 1                          /* framebuffer, optional */
    .long 20
    .long 0, 0, 32                      /* any width and height; 32 bpp */
    .long 0                             /* padding to 8 */
    .word 0, 0                          /* end */
    .long 8
mb2_header_end:

    .section .text.entry, "ax"
    .code32
    .globl pvh_entry, mb2_entry
mb2_entry:
    cli
    cld
    mov %ebx, %esi                      /* the information structure */
    mov %eax, %ebp                      /* the loader's magic */
    jmp 0f
pvh_entry:
    cli
    cld
    mov %ebx, %esi                      /* start_info */
    xor %ebp, %ebp
0:  mov $boot_stack_top, %esp

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
    mov $boot_stack_top, %rsp
    fninit                              /* x87 and SSE in their reset state */
    mov %esi, %edi
    mov %ebp, %esi
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
    .p2align 4
boot_stack: .skip 8192                  /* fw_main's, until the guest runs */
boot_stack_top:

    .section .note.GNU-stack, "", @progbits
