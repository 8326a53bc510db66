# A CMake toolchain for projects that build only hvbios guests: every target
# is freestanding x86-64 code. Use it as
#
#   cmake -DCMAKE_TOOLCHAIN_FILE=<this file> ...
#
# then find_package(hvbios-guest) and hvbios_add_guest() (or link
# hvbios::guest_sdk yourself). The host's gcc is the default compiler; set
# CMAKE_C_COMPILER (e.g. x86_64-elf-gcc) to use another.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
if(NOT CMAKE_C_COMPILER)
  set(CMAKE_C_COMPILER gcc)
endif()
if(NOT CMAKE_CXX_COMPILER)
  set(CMAKE_CXX_COMPILER g++)
endif()
if(NOT CMAKE_ASM_COMPILER)
  set(CMAKE_ASM_COMPILER ${CMAKE_C_COMPILER})
endif()

# There is no C library to link a test program against.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

include("${CMAKE_CURRENT_LIST_DIR}/HvbiosGuestFlags.cmake")
list(JOIN HVBIOS_GUEST_C_FLAGS " " _hvbios_c_flags)
list(JOIN HVBIOS_GUEST_CXX_ONLY_FLAGS " " _hvbios_cxx_only_flags)
set(CMAKE_C_FLAGS_INIT "${_hvbios_c_flags}")
set(CMAKE_CXX_FLAGS_INIT "${_hvbios_c_flags} ${_hvbios_cxx_only_flags}")
set(CMAKE_ASM_FLAGS_INIT "${_hvbios_c_flags}")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-nostdlib -static -no-pie")

# A Generic system searches no system prefixes: find the SDK next to here.
set(hvbios-guest_DIR "${CMAKE_CURRENT_LIST_DIR}" CACHE PATH
    "Where hvbios-guestConfig.cmake is")
