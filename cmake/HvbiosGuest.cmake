# Freestanding guest images linked with the hvbios guest SDK
# (target hvbios::guest_sdk, which carries the flags of HvbiosGuestFlags.cmake
# and the SDK's linker script).
#
#   hvbios_add_guest(<name> SOURCES <files...>)
#
# builds <name>.elf: a static ELF64 image at 1 MiB with the SDK's start file
# (or the guest's own _start). It lands in ${HVBIOS_GUEST_OUTPUT_DIRECTORY}
# when that is set, else where CMake puts executables. Installed with the SDK
# (find_package(hvbios-guest) or find_package(hvbios)).
function(hvbios_add_guest name)
  cmake_parse_arguments(PARSE_ARGV 1 GUEST "" "" "SOURCES")
  if(NOT GUEST_SOURCES)
    message(FATAL_ERROR "hvbios_add_guest(${name}): no SOURCES")
  endif()
  add_executable(${name} ${GUEST_SOURCES})
  target_link_libraries(${name} PRIVATE hvbios::guest_sdk)
  # Inside hvbios: its own guests are built strictly (see CMakeLists.txt).
  if(HVBIOS_GUEST_STRICT_OPTIONS)
    target_compile_options(${name} PRIVATE ${HVBIOS_GUEST_STRICT_OPTIONS})
  endif()
  set_target_properties(${name} PROPERTIES SUFFIX ".elf")
  if(HVBIOS_GUEST_OUTPUT_DIRECTORY)
    set_target_properties(${name} PROPERTIES
      RUNTIME_OUTPUT_DIRECTORY ${HVBIOS_GUEST_OUTPUT_DIRECTORY})
  endif()
endfunction()
