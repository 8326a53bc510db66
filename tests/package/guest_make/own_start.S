/* A guest's own entry point: its own stack, then kernel_main(boot_info).
 * The boot protocol enters here in 64-bit mode with rdi = boot info. */
  .text
  .globl _start
_start:
  lea stack_top(%rip), %rsp
  call kernel_main
1:
  hlt
  jmp 1b

  .bss
  .balign 16
  .skip 16384
stack_top:

  .section .note.GNU-stack, "", @progbits
