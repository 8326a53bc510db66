# The flags every hvbios guest is built with, in this project and outside it
# (installed next to hvbiosGuestConfig.cmake). They are the ones the SDK's
# code and the boot protocol need of the code linked with them, not a style:
#
#   -ffreestanding ...       no hosted C library behind the compiler's back
#   -fno-pic -fno-pie        a static image at fixed addresses (guest.ld)
#   -mno-red-zone            interrupts arrive on the interrupted stack
#   -mgeneral-regs-only      no SSE: KVM hosts that emulate ring-0 code cannot
#                            run it (docs/architecture.md)
#   -fno-stack-protector     no TLS canary exists in a guest
#   C++: no exceptions, RTTI or thread-safe statics (no runtime for them)
#
# Optimisation and warnings are the guest author's choice; guest code runs
# best at -O2 because ring-0 instructions may be emulated.
set(HVBIOS_GUEST_C_FLAGS
  -ffreestanding -fno-pic -fno-pie -mno-red-zone -mgeneral-regs-only
  -mcmodel=small -fno-stack-protector)
set(HVBIOS_GUEST_CXX_ONLY_FLAGS -fno-exceptions -fno-rtti -fno-threadsafe-statics)
set(HVBIOS_GUEST_COMPILE_OPTIONS ${HVBIOS_GUEST_C_FLAGS}
  "$<$<COMPILE_LANGUAGE:CXX>:${HVBIOS_GUEST_CXX_ONLY_FLAGS}>")

# Link options besides the linker script: a static, non-PIE image with 4 KiB
# segment alignment; _start from the SDK unless the guest defines its own.
set(HVBIOS_GUEST_LINK_OPTIONS
  -nostdlib -static -no-pie -Wl,--undefined=_start -Wl,--build-id=none
  -Wl,-z,max-page-size=0x1000 -Wl,-z,noexecstack -Wl,--gc-sections)
