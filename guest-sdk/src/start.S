/* hvbios guest SDK start file. Entered per the boot protocol (docs/abi.md):
 * 64-bit mode, rdi = boot info. Switches to the SDK's own stack in .bss (the
 * boot stack is HVB_MEM_BOOT memory the guest may reuse) and calls
 * hvb_start_c(boot_info) (start.c), which never returns.
 *
 * The library's only reference to hvb_main is through here: the linker takes
 * this object out of libhvbios-guest.a only when nothing before it defines
 * _start, so a guest with its own start code links neither (see README). */
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

  .section .bss
  .balign 16
hvb_stack:
  .skip 65536
hvb_stack_top:

  .section .note.GNU-stack, "", @progbits
