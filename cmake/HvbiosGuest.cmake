# Freestanding guest images built with the host compiler and the guest SDK.
#
#   hvbios_add_guest(<name> SOURCES <files...>)
#
# builds ${CMAKE_BINARY_DIR}/guests/<name>.elf: a static ELF64 image at
# 1 MiB, linked against the SDK (start file, wrappers, printf) with the
# SDK's linker script. Guest code is compiled -mgeneral-regs-only (no SSE:
# the KVM on our machines cannot emulate it at CPL 0) and always -O2
# whatever the build type, because every instruction a guest executes at
# ring 0 may be emulated.

set(HVBIOS_GUEST_COMPILE_OPTIONS
  -ffreestanding -fno-pic -fno-pie -mno-red-zone -mgeneral-regs-only
  -mcmodel=small -fno-stack-protector -fno-asynchronous-unwind-tables
  -fno-unwind-tables -fcf-protection=none -ffunction-sections
  -fdata-sections -O2 -Wall -Wextra -Werror
  $<$<COMPILE_LANGUAGE:CXX>:-fno-exceptions -fno-rtti -fno-threadsafe-statics>)

function(hvbios_add_guest name)
  cmake_parse_arguments(PARSE_ARGV 1 GUEST "" "" "SOURCES")
  if(NOT GUEST_SOURCES)
    message(FATAL_ERROR "hvbios_add_guest(${name}): no SOURCES")
  endif()
  add_executable(${name} ${GUEST_SOURCES})
  target_link_libraries(${name} PRIVATE hvbios_guest_sdk)
  set_target_properties(${name} PROPERTIES
    SUFFIX ".elf"
    RUNTIME_OUTPUT_DIRECTORY ${HVBIOS_GUEST_OUTPUT_DIRECTORY})
endfunction()
