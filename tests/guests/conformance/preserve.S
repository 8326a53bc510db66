/* uint64_t conformance_clobbered_registers(void)
 *
 * Loads a distinct pattern into every general-purpose register except rax
 * and rdx (the ABI's return registers) and rsp, makes a debug.null
 * hypercall through the page, and returns a bit mask of the registers whose
 * value changed: bit 0 rbx, 1 rcx, 2 rsi, 3 rdi, 4 rbp, 5 r8, ... 12 r15.
 * Also sets bit 13 if rflags.DF came back set. 0 means the platform
 * preserved everything the calling convention promises. */
  .text
  .globl conformance_clobbered_registers
  .type conformance_clobbered_registers, @function
conformance_clobbered_registers:
  push %rbx
  push %rbp
  push %r12
  push %r13
  push %r14
  push %r15
  movabs $0x1111111111111101, %rbx
  movabs $0x2222222222222202, %rcx
  movabs $0x3333333333333303, %rsi
  movabs $0x4444444444444404, %rdi
  movabs $0x5555555555555505, %rbp
  movabs $0x6666666666666606, %r8
  movabs $0x7777777777777707, %r9
  movabs $0x8888888888888808, %r10
  movabs $0x9999999999999909, %r11
  movabs $0xaaaaaaaaaaaaaa0a, %r12
  movabs $0xbbbbbbbbbbbbbb0b, %r13
  movabs $0xcccccccccccccc0c, %r14
  movabs $0xdddddddddddddd0d, %r15
  mov $0x00040000, %eax /* HVB_FN_DEBUG_NULL */
  call *hvb_hypercall_entry(%rip)
  xor %eax, %eax
  movabs $0x1111111111111101, %rdx
  cmp %rdx, %rbx
  je 1f
  or $0x1, %eax
1:movabs $0x2222222222222202, %rdx
  cmp %rdx, %rcx
  je 1f
  or $0x2, %eax
1:movabs $0x3333333333333303, %rdx
  cmp %rdx, %rsi
  je 1f
  or $0x4, %eax
1:movabs $0x4444444444444404, %rdx
  cmp %rdx, %rdi
  je 1f
  or $0x8, %eax
1:movabs $0x5555555555555505, %rdx
  cmp %rdx, %rbp
  je 1f
  or $0x10, %eax
1:movabs $0x6666666666666606, %rdx
  cmp %rdx, %r8
  je 1f
  or $0x20, %eax
1:movabs $0x7777777777777707, %rdx
  cmp %rdx, %r9
  je 1f
  or $0x40, %eax
1:movabs $0x8888888888888808, %rdx
  cmp %rdx, %r10
  je 1f
  or $0x80, %eax
1:movabs $0x9999999999999909, %rdx
  cmp %rdx, %r11
  je 1f
  or $0x100, %eax
1:movabs $0xaaaaaaaaaaaaaa0a, %rdx
  cmp %rdx, %r12
  je 1f
  or $0x200, %eax
1:movabs $0xbbbbbbbbbbbbbb0b, %rdx
  cmp %rdx, %r13
  je 1f
  or $0x400, %eax
1:movabs $0xcccccccccccccc0c, %rdx
  cmp %rdx, %r14
  je 1f
  or $0x800, %eax
1:movabs $0xdddddddddddddd0d, %rdx
  cmp %rdx, %r15
  je 1f
  or $0x1000, %eax
1:pushf
  pop %rdx
  test $0x400, %edx
  jz 1f
  or $0x2000, %eax
1:pop %r15
  pop %r14
  pop %r13
  pop %r12
  pop %rbp
  pop %rbx
  ret
  .size conformance_clobbered_registers, . - conformance_clobbered_registers

  .section .note.GNU-stack, "", @progbits
