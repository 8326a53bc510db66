#include "backends/kvm/ports.h"

/* The hypercall page (docs/abi.md, section 3) as the KVM backend serves
 * it: the backend copies these bytes to the start of the page and fills
 * the rest with int3. Each entry sits at its HVB_HCPAGE_* offset
 * (hvbios/abi/hypercall.h); `.org` refuses to move backwards, so an entry
 * that outgrew its slot fails the build. Nothing here runs on the host. */

    .section .rodata.hvb_kvm_hcpage, "a"
    .globl hvb_kvm_hcpage, hvb_kvm_hcpage_end
hvb_kvm_hcpage:

/* 0x000 HVB_HCPAGE_CALL: one exit to the VMM, which reads rax..r9 from the
 * sync regs and writes rax and rdx back before the next KVM_RUN. */
    out %al, $HVB_KVM_HYPERCALL_PORT
    ret

/* 0x040 HVB_HCPAGE_EOI: write 0 to the x2APIC EOI MSR (0x80b), which the
 * in-kernel APIC handles without an exit (SDM Vol. 3A 11.12.1). `mov`, not
 * `xor`, keeps rflags intact. */
    .org hvb_kvm_hcpage + 0x040, 0xcc
    push %rax
    push %rcx
    push %rdx
    mov $0x80b, %ecx
    mov $0, %eax
    mov $0, %edx
    wrmsr
    pop %rdx
    pop %rcx
    pop %rax
    ret

/* 0x080 HVB_HCPAGE_NOTIFY: edi = queue. A bound ioeventfd completes the
 * write in the kernel: no exit. */
    .org hvb_kvm_hcpage + 0x080, 0xcc
    push %rax
    mov %edi, %eax
    out %eax, $HVB_KVM_NOTIFY_PORT
    pop %rax
    ret

/* 0x0c0 HVB_HCPAGE_HALT: the STI shadow covers the hlt, so an event that
 * is already pending wakes it at once (SDM Vol. 2B, STI): no lost
 * wake-up. With the in-kernel irqchip the halt blocks inside KVM_RUN. */
    .org hvb_kvm_hcpage + 0x0c0, 0xcc
    sti
    hlt
    ret
hvb_kvm_hcpage_end:

    .section .note.GNU-stack, "", @progbits
