/* hvbios guest SDK: where vCPUs started with hvb_vcpu_start_c() begin.
 * Apart from start.S so that a guest with its own _start can start vCPUs. */
  .section .text.hvb_vcpu_trampoline, "ax"
/* Entry of vCPUs started with hvb_vcpu_start_c(): rsp = the stack it
 * prepared, with fn at [rsp]; rdi = arg. Calls fn(arg) with the stack
 * aligned as the SysV ABI wants, then stops the vCPU. */
  .globl hvb_vcpu_trampoline
  .type hvb_vcpu_trampoline, @function
hvb_vcpu_trampoline:
  pop %rax
  sub $8, %rsp
  xor %ebp, %ebp
  call *%rax
  mov $0x00050003, %eax /* HVB_FN_VCPU_STOP */
  call *hvb_hypercall_entry(%rip)
2:
  cli
  hlt
  jmp 2b
  .size hvb_vcpu_trampoline, . - hvb_vcpu_trampoline

  .section .note.GNU-stack, "", @progbits
