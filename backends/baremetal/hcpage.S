#include "asm_macros.inc"

/* The hypercall page (docs/abi.md, section 3) as the bare-metal firmware
 * serves it, and the application processors' way in.
 *
 * The guest enters an entry with `call`, under its own page tables and on
 * its own stack; it may have mapped nothing of ours but this page. So the
 * call and EOI entries switch to the firmware's page tables (CR3) first,
 * using at most 40 bytes of the guest's stack (the ABI allows 64); the
 * page is identity-mapped in both address spaces, so execution continues
 * across the switch. Everything after it happens on the calling CPU's
 * firmware stack. Interrupts are off while the firmware runs; the guest's
 * rflags come back with `popfq`. Only immediates are used before the
 * switch: the page reads nothing, not even itself. */

/* r11 = the top of this CPU's firmware stack: vCPU i's, i being this
 * CPU's local APIC id's place in fw_apic_ids; the stacks lie from
 * fw_stacks_base (boot.c). The id comes from the ID register (SDM Vol. 3A
 * 11.4.6 for an xAPIC; in x2APIC mode MSR 0x802, 11.12, read with rdmsr,
 * which takes rax, rcx and rdx), and the search needs a counter; but every register except r10 and
 * r11 still holds the caller's values, and no stack is usable yet. So
 * they are kept in fw_id_scratch meanwhile, by one CPU at a time: the one
 * holding fw_id_lock. Needs the firmware's page tables; changes rflags. */
.macro this_cpu_stack_top
1:  lock btsl $0, fw_id_lock
    jnc 2f
    pause
    jmp 1b
2:  mov %rax, fw_id_scratch
    mov %rcx, fw_id_scratch + 8
    mov %rdx, fw_id_scratch + 16
    cmpb $0, fw_x2apic
    je 3f
    mov $0x802, %ecx                    /* the x2APIC ID register */
    rdmsr
    jmp 4f
3:  mov $0xfee00020, %eax               /* the xAPIC ID register */
    mov (%rax), %eax
    shr $24, %eax
4:  xor %ecx, %ecx
5:  cmp fw_apic_ids(, %rcx, 4), %eax
    je 7f
    inc %ecx
    cmp $64, %ecx                       /* FW_MAX_CPUS, firmware.h */
    jb 5b
6:  hlt                                 /* not reached: only CPUs the */
    jmp 6b                              /* firmware started run here */
7:  lea 1(%rcx), %r11d
    mov fw_id_scratch, %rax
    mov fw_id_scratch + 8, %rcx
    mov fw_id_scratch + 16, %rdx
    movl $0, fw_id_lock                 /* a store is a release on x86 */
    shl $12, %r11                       /* FW_STACK_SIZE, firmware.h */
    add fw_stacks_base, %r11
.endm

    .section .hcpage, "ax"
    .p2align 12
    .globl hcpage
hcpage:

/* 0x000 HVB_HCPAGE_CALL: rax = fid, rdi rsi rdx rcx r8 r9 = arguments. */
    pushfq
    cli
    push %r10
    push %r11
    mov %cr3, %r10                      /* the guest's page tables */
    mov $fw_pml4, %r11d
    mov %r11, %cr3
    jmp fw_call

/* 0x040 HVB_HCPAGE_EOI: acknowledge the event being handled at the local
 * APIC (EOI register, SDM Vol. 3A 11.8.5); preserves everything. In
 * x2APIC mode (IA32_APIC_BASE.EXTD) that is an MSR write; an xAPIC's
 * register is in its MMIO page, which only the firmware's page tables
 * map. */
    .org hcpage + 0x040
    pushfq
    cli
    push %rax
    push %rcx
    push %rdx
    mov $0x1b, %ecx                     /* IA32_APIC_BASE */
    rdmsr
    test $0x400, %eax
    jz hcpage_eoi_xapic
    mov $0x80b, %ecx                    /* the x2APIC EOI register */
    xor %eax, %eax
    xor %edx, %edx
    wrmsr
    jmp hcpage_eoi_done

/* 0x080 HVB_HCPAGE_NOTIFY: edi = queue; the firmware serves its new
 * requests at once (fw_notify). Preserves everything. */
    .org hcpage + 0x080
    pushfq
    cli
    push %r10
    push %r11
    mov %cr3, %r10
    mov $fw_pml4, %r11d
    mov %r11, %cr3
    jmp fw_notify_entry

/* 0x0c0 HVB_HCPAGE_HALT: enable interrupts and wait for an event. `sti`
 * takes effect after `hlt` starts, so an event pending since a `cli`
 * wakes it (SDM Vol. 2B, STI). */
    .org hcpage + 0x0c0
    sti
    hlt
    ret

/* 0x100: where fw_call returns to, on the firmware's stack and page
 * tables, with rax = status, rdx = value. */
    .org hcpage + 0x100
hcpage_return:
    pop %r11                            /* the guest's rsp */
    pop %r10                            /* the guest's cr3 */
    mov %r10, %cr3
    mov %r11, %rsp
    pop %r11
    pop %r10
    popfq
    ret

hcpage_eoi_xapic:
    mov %cr3, %rax                      /* the guest's page tables */
    mov $fw_pml4, %ecx
    mov %rcx, %cr3
    mov $0xfee000b0, %ecx
    movl $0, (%rcx)
    mov %rax, %cr3
hcpage_eoi_done:
    pop %rdx
    pop %rcx
    pop %rax
    popfq
    ret
    .org hcpage + 0x1000

    .data
    .p2align 6
fw_id_lock:     .long 0                 /* this_cpu_stack_top's */
    .p2align 3
fw_id_scratch:  .quad 0, 0, 0

/* Serves one hypercall on this CPU's firmware stack: keeps the argument
 * registers the ABI preserves (all but rdx), hands the arguments to
 * fw_dispatch() as an array, and goes back through the page. */
    .text
fw_call:
    this_cpu_stack_top
    xchg %r11, %rsp                     /* r11 = the guest's rsp */
    push %r10
    push %r11
    push %rbx                           /* for reports (fw_call_frame) */
    push %rbp
    push %r12
    push %r13
    push %r14
    push %r15
    push %rdi
    push %rsi
    push %rcx
    push %r8
    push %r9
    push %r9                            /* args[5] .. args[0] */
    push %r8
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    mov %rsp, %rsi
    mov %rax, %rdi
    sub $8, %rsp                        /* 16-byte alignment for the call */
    call fw_dispatch                    /* rax = status, rdx = value */
    add $56, %rsp
    pop %r9
    pop %r8
    pop %rcx
    pop %rsi
    pop %rdi
    add $48, %rsp                       /* rbx..r15: the C code kept them */
    jmp hcpage_return

/* Serves a doorbell on this CPU's firmware stack, keeping every register
 * the C code may clobber. */
fw_notify_entry:
    this_cpu_stack_top
    xchg %r11, %rsp
    push %r10
    push %r11
    push %rax
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %r8
    push %r9
    sub $8, %rsp                        /* 16-byte alignment for the call */
    mov %edi, %edi                      /* the queue id is 32 bits */
    call fw_notify
    add $8, %rsp
    pop %r9
    pop %r8
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rax
    jmp hcpage_return

/* An application processor's first instructions after INIT-SIPI-SIPI
 * (SDM Vol. 3A 8.4.4): real mode, CS = this page >> 4. It goes straight
 * to long mode on the firmware's page tables (PE and PG set together, with
 * LME already on) and into ap_main() on its own firmware stack. */
    .section .trampoline, "ax"
    .p2align 12
    .code16
    .globl ap_trampoline
ap_trampoline:
    cli
    cld
    mov %cs, %ax
    mov %ax, %ds
    lgdtl ap_gdt_descriptor - ap_trampoline
    enable_long_mode fw_pml4
    ljmpl $0x08, $ap_long_mode
    .p2align 2
ap_gdt_descriptor:
    .word 3 * 8 - 1                     /* fw_gdt (entry.S): null, code, data */
    .long fw_gdt

    .text
    .code64
ap_long_mode:
    load_data_segments
    /* This CPU's local APIC into the boot CPU's mode (apic.c): x2APIC mode
     * through xAPIC mode (SDM Vol. 3A 11.12.5), from whichever of the two
     * INIT left it in (writing a mode it is in already changes nothing). */
    cmpb $0, fw_x2apic
    je 8f
    mov $0x1b, %ecx                     /* IA32_APIC_BASE */
    rdmsr
    or $0x800, %eax                     /* EN */
    wrmsr
    or $0x400, %eax                     /* EXTD */
    wrmsr
8:  this_cpu_stack_top
    mov %r11, %rsp
    call ap_main
1:  cli
    hlt
    jmp 1b

    .section .note.GNU-stack, "", @progbits
