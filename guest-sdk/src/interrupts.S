/* hvbios guest SDK: interrupt entry points. 256 of them, 16 bytes apart from
 * hvb_isr_entries, each pushing (0 where the CPU pushes no error code) and
 * the vector, then the common path: save every GPR into a struct
 * hvb_interrupt_frame, call hvb_interrupt_dispatch(frame), restore, iretq.
 * 64-bit interrupt delivery aligns rsp to 16 before pushing the 5-word
 * frame (SDM Vol. 3A, 6.14.2), so 22 words later the call is aligned. */
  .text
  .balign 16
  .globl hvb_isr_entries
hvb_isr_entries:
  .set vec, 0
  .rept 256
  .balign 16
  /* Exceptions with an error code: SDM Vol. 3A, table 6-1. */
  .if (vec == 8) || (vec >= 10 && vec <= 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
  .else
  pushq $0
  .endif
  pushq $vec
  jmp hvb_isr_common
  .set vec, vec + 1
  .endr

hvb_isr_common:
  push %rax
  push %rbx
  push %rcx
  push %rdx
  push %rsi
  push %rdi
  push %rbp
  push %r8
  push %r9
  push %r10
  push %r11
  push %r12
  push %r13
  push %r14
  push %r15
  mov %rsp, %rdi
  cld
  call hvb_interrupt_dispatch
  pop %r15
  pop %r14
  pop %r13
  pop %r12
  pop %r11
  pop %r10
  pop %r9
  pop %r8
  pop %rbp
  pop %rdi
  pop %rsi
  pop %rdx
  pop %rcx
  pop %rbx
  pop %rax
  add $16, %rsp
  iretq

  .section .note.GNU-stack, "", @progbits
