# What `cmake --install` puts where, and the Debian packages cpack makes of it
# (docs/packaging.md). Two components: runtime (package hvbios: the tools,
# libhvbios.so.0, the firmware, example guests, docs) and dev (package
# hvbios-dev: headers, static libraries, CMake and pkg-config files, the
# guest SDK).
include(CMakePackageConfigHelpers)

# ---- Headers ---------------------------------------------------------------
install(DIRECTORY include/hvbios DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  COMPONENT dev FILES_MATCHING PATTERN "*.h")
install(FILES ${HVBIOS_GENERATED_INCLUDE_DIR}/hvbios/version.h
              ${PROJECT_BINARY_DIR}/proto/hvbios/vm_profile.pb.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/hvbios COMPONENT dev)
install(FILES proto/hvbios/vm_profile.proto
  DESTINATION ${HVBIOS_INSTALL_DATADIR}/proto/hvbios COMPONENT dev)

# ---- Host libraries and their CMake package --------------------------------
install(TARGETS hvbios EXPORT hvbiosTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    COMPONENT runtime NAMELINK_COMPONENT dev)
install(TARGETS hvbios_static hvbios_kvm hvbios_sandbox hvbios_core hvbios_common
                hvbios_profile EXPORT hvbiosTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
install(EXPORT hvbiosTargets NAMESPACE hvbios::
  DESTINATION ${HVBIOS_INSTALL_CMAKEDIR}/hvbios COMPONENT dev)

set(config_dir ${PROJECT_BINARY_DIR}/install)
configure_package_config_file(cmake/install/hvbiosConfig.cmake.in
  ${config_dir}/hvbiosConfig.cmake
  INSTALL_DESTINATION ${HVBIOS_INSTALL_CMAKEDIR}/hvbios)
# The C API keeps accepting older callers (docs/architecture.md, "The C API
# grows"): any 0.x request up to this version is satisfied.
write_basic_package_version_file(${config_dir}/hvbiosConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${config_dir}/hvbiosConfig.cmake
              ${config_dir}/hvbiosConfigVersion.cmake
  DESTINATION ${HVBIOS_INSTALL_CMAKEDIR}/hvbios COMPONENT dev)

# ---- The guest SDK's CMake package (guest-sdk/ installs the SDK) -----------
configure_package_config_file(cmake/install/hvbios-guestConfig.cmake.in
  ${config_dir}/hvbios-guestConfig.cmake
  INSTALL_DESTINATION ${HVBIOS_INSTALL_CMAKEDIR}/hvbios-guest
  PATH_VARS HVBIOS_INSTALL_GUEST_LIBDIR CMAKE_INSTALL_INCLUDEDIR)
write_basic_package_version_file(${config_dir}/hvbios-guestConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${config_dir}/hvbios-guestConfig.cmake
              ${config_dir}/hvbios-guestConfigVersion.cmake
              cmake/HvbiosGuest.cmake cmake/HvbiosGuestFlags.cmake
              cmake/install/hvbios-guest-toolchain.cmake
  DESTINATION ${HVBIOS_INSTALL_CMAKEDIR}/hvbios-guest COMPONENT dev)

# ---- pkg-config: relocatable (prefix from the .pc file's own place) --------
set(pc_dir ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
file(RELATIVE_PATH HVBIOS_PC_PREFIX_FROM_PCDIR
     ${CMAKE_INSTALL_PREFIX}/${pc_dir} ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" HVBIOS_PC_PREFIX_FROM_PCDIR
       "${HVBIOS_PC_PREFIX_FROM_PCDIR}")
# Static linking only: the Abseil modules libhvbios.a's objects need.
set(HVBIOS_PC_ABSL_MODULES
  "absl_status absl_statusor absl_strings absl_str_format absl_time")
list(JOIN HVBIOS_GUEST_C_FLAGS " " HVBIOS_PC_GUEST_C_FLAGS)
list(JOIN HVBIOS_GUEST_LINK_OPTIONS " " HVBIOS_PC_GUEST_LINK_FLAGS)
configure_file(cmake/install/hvbios.pc.in ${config_dir}/hvbios.pc @ONLY)
configure_file(cmake/install/hvbios-guest.pc.in ${config_dir}/hvbios-guest.pc
  @ONLY)
install(FILES ${config_dir}/hvbios.pc ${config_dir}/hvbios-guest.pc
  DESTINATION ${pc_dir} COMPONENT dev)

# ---- Documentation ---------------------------------------------------------
install(FILES README.md docs/abi.md docs/architecture.md docs/hvbios-run.md
              docs/adding-a-service.md docs/performance.md docs/packaging.md
  DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT runtime)
install(FILES backends/baremetal/README.md
  DESTINATION ${CMAKE_INSTALL_DOCDIR} RENAME baremetal.md COMPONENT runtime)
install(FILES guest-sdk/README.md
  DESTINATION ${CMAKE_INSTALL_DOCDIR} RENAME guest-sdk.md COMPONENT dev)

# ---- Debian packages: cpack -G DEB (CMakePresets.json: package) ------------
# Depends of hvbios come from dpkg-shlibdeps; the descriptions' first lines
# are the packages' summaries.
if(NOT PROJECT_IS_TOP_LEVEL)
  return()  # a parent project makes its own packages
endif()
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME hvbios)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "hvbios maintainers <hvbios@localhost>")
set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR}/packages)
set(CPACK_COMPONENTS_ALL runtime dev)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME hvbios)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION misc)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_RECOMMENDS
  "qemu-system-x86, grub-common, grub-pc-bin, grub-efi-amd64-bin, xorriso, mtools")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SUGGESTS "ovmf")
set(CPACK_COMPONENT_RUNTIME_DESCRIPTION
"hypercall BIOS for x86-64 research operating systems
hvbios-run boots a guest ELF on KVM and serves the hvbios hypercall ABI
(console, clock, timer, events, vCPUs, block, memory map, random bytes);
hvbios-qemu boots the same guest on the hvbios bare-metal firmware under
QEMU. Includes libhvbios.so.0 (the C API), hvbios-bench and example guests.")
set(CPACK_DEBIAN_DEV_PACKAGE_NAME hvbios-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
    "hvbios (= ${PROJECT_VERSION}), libabsl-dev, libprotobuf-dev, libseccomp-dev, gcc")
set(CPACK_DEBIAN_DEV_PACKAGE_RECOMMENDS "cmake, pkgconf")
set(CPACK_COMPONENT_DEV_DESCRIPTION
"hypercall BIOS for x86-64 research operating systems - development files
Headers, static libraries, CMake package (find_package(hvbios)) and
pkg-config files for VMMs embedding hvbios (C and C++), and the guest SDK
(libhvbios-guest.a, guest.ld, hvbios_add_guest(), a CMake toolchain file and
hvbios-guest.pc) for operating systems calling the hvbios ABI.")
include(CPack)
