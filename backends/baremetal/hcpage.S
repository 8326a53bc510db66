/* The hypercall page (docs/abi.md, section 3) as the bare-metal firmware
 * serves it. The guest enters an entry with `call`, under its own page
 * tables and on its own stack; it may have mapped nothing of ours but this
 * page. So the call and EOI entries switch to the firmware's page tables
 * (CR3) first, using at most 40 bytes of the guest's stack (the ABI allows
 * 64), and everything after the switch happens on the firmware's stack.
 * Interrupts are off while the firmware runs; the guest's rflags come back
 * with `popfq`. The page is identity-mapped in both address spaces, which
 * is what lets it switch between them. */

#define SLOT_FW_CR3    0x800
#define SLOT_FW_STACK  0x808
#define SLOT_FW_CALL   0x810

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
    mov hcpage + SLOT_FW_CR3(%rip), %r11
    mov %r11, %cr3
    mov %rsp, %r11                      /* the guest's stack, unmapped now */
    mov hcpage + SLOT_FW_STACK(%rip), %rsp
    push %r10
    push %r11
    jmp *hcpage + SLOT_FW_CALL(%rip)    /* fw_call, below */

/* 0x040 HVB_HCPAGE_EOI: acknowledge the event being handled at the local
 * APIC (xAPIC EOI register, SDM Vol. 3A 11.8.5); preserves everything. */
    .org hcpage + 0x040
    push %r10
    push %r11
    pushfq
    cli
    mov %cr3, %r10
    mov hcpage + SLOT_FW_CR3(%rip), %r11
    mov %r11, %cr3
    mov $0xfee000b0, %r11d
    movl $0, (%r11)
    mov %r10, %cr3
    popfq
    pop %r11
    pop %r10
    ret

/* 0x080 HVB_HCPAGE_NOTIFY: no queues on this platform yet; a doorbell for
 * a queue that does not exist is ignored. */
    .org hcpage + 0x080
    ret

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
    .globl hcpage_return
hcpage_return:
    pop %r11                            /* the guest's rsp */
    pop %r10                            /* the guest's cr3 */
    mov %r10, %cr3
    mov %r11, %rsp
    pop %r11
    pop %r10
    popfq
    ret

/* Slots the firmware fills at boot (main.c); read-only to the guest. */
    .org hcpage + SLOT_FW_CR3
    .globl hcpage_fw_cr3, hcpage_fw_stack, hcpage_fw_call
hcpage_fw_cr3:   .quad 0
hcpage_fw_stack: .quad 0
hcpage_fw_call:  .quad 0
    .org hcpage + 0x1000

/* Serves one hypercall on the firmware's stack: keeps the argument
 * registers the ABI preserves (all but rdx), hands the arguments to
 * fw_dispatch() as an array, and goes back through the page. */
    .text
    .globl fw_call
fw_call:
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
    jmp hcpage_return

    .section .note.GNU-stack, "", @progbits
