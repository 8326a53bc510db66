/* The I/O ports the KVM backend's hypercall page writes: this backend's
 * business, not ABI. Clear of the PIC (0x20/0x21, 0xa0/0xa1) and ELCR
 * (0x4d0/0x4d1) ports the in-kernel irqchip claims. Plain numbers: the
 * page's assembly (hcpage.S) and the C++ read them both. */
#ifndef HVBIOS_BACKENDS_KVM_PORTS_H_
#define HVBIOS_BACKENDS_KVM_PORTS_H_

/* The call entry's `out imm8, al`: an exit with rax..r9 in the sync regs. */
#define HVB_KVM_HYPERCALL_PORT 0xe8
/* The notify entry writes the queue id, 4 bytes; each queue's eventfd is
 * bound to it with a data match (KVM_IOEVENTFD). */
#define HVB_KVM_NOTIFY_PORT 0xea

#endif /* HVBIOS_BACKENDS_KVM_PORTS_H_ */
