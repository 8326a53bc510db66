/* hvbios guest SDK start file. Entered per the boot protocol (docs/abi.md):
 * 64-bit mode, rdi = boot info. Switches to the SDK's own stack in .bss (the
 * boot stack is HVB_MEM_BOOT memory the guest may reuse) and calls
 * hvb_start_c(boot_info), which never returns. */
  .section .text.start, "ax"
  .globl _start
  .type _start, @function
_start:
  lea hvb_stack_top(%rip), %rsp
  xor %ebp, %ebp
  call hvb_start_c
1:
  cli
  hlt
  jmp 1b
  .size _start, . - _start

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

  .section .bss
  .balign 16
hvb_stack:
  .skip 65536
hvb_stack_top:

  .section .note.GNU-stack, "", @progbits
