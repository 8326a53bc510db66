#!/bin/bash
# Builds and runs, outside the source tree, what hvbios's users build against
# an installed hvbios (docs/packaging.md):
#
#   check-consumers.sh PREFIX [--subproject]
#
# PREFIX is an install prefix (`cmake --install --prefix`) or the usr/ of an
# unpacked .deb. Checked: the exported symbols of libhvbios.so; a C VMM via
# find_package and via pkg-config alone; a C++ VMM; a guest via CMake with
# the SDK's toolchain file and one via plain Make with its own _start; the
# installed hvbios-run, hvbios-qemu and hvbios-bench. With --subproject,
# also hvbios through add_subdirectory with its tests and benchmarks off.
# Guests run on the installed bare-metal firmware under QEMU, and on KVM
# where /dev/kvm can be opened (else those runs are skipped, and said so).
set -euo pipefail
readonly source_dir="$(cd "$(dirname "$0")/../.." && pwd)"
readonly package_dir="${source_dir}/tests/package"
readonly prefix="$(cd "$1" && pwd)"
readonly subproject="${2:-}"
if [ -n "${HVBIOS_CONSUMERS_WORK:-}" ]; then  # kept, to look at or rerun
  work="${HVBIOS_CONSUMERS_WORK}"
  mkdir -p "${work}"
else
  work="$(mktemp -d "${TMPDIR:-/tmp}/hvbios-consumers.XXXXXX")"
  trap 'rm -rf "${work}"' EXIT
fi

step() { echo "--- $*"; }
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
# expect PATTERN COMMAND...: runs COMMAND (bounded), which must exit 0 and
# print PATTERN (an extended regex over its whole output).
expect() {
  local pattern="$1" output status=0
  shift
  output="$(timeout 120 "$@" 2>&1)" || status=$?
  if [ "${status}" -ne 0 ] ||
     ! echo "${output}" | tr '\n' ' ' | grep -Eq "${pattern}"; then
    echo "${output}" | sed 's/^/    /'
    fail "$* exited with ${status}, expected /${pattern}/"
  fi
  local seen
  seen="$(echo "${output}" | tr '\n' ' ' | grep -Eo "${pattern}" | head -n 1)"
  echo "    ok: ${1##*/} ${2:-}: ${seen:0:70}"
}
have_kvm() { [ -c /dev/kvm ] && (exec 3<>/dev/kvm) 2>/dev/null; }
on_kvm() {
  if have_kvm; then
    expect "$@"
  else
    echo "    skipped: /dev/kvm cannot be opened here ($2 ...)"
  fi
}

pc_file="$(find "${prefix}" -path '*/pkgconfig/hvbios.pc' | head -n 1)"
[ -n "${pc_file}" ] || fail "no hvbios.pc under ${prefix}"
readonly libdir="$(dirname "$(dirname "${pc_file}")")"
export PKG_CONFIG_PATH="${libdir}/pkgconfig"
readonly guests="${prefix}/share/hvbios/guests"
readonly toolchain="${libdir}/cmake/hvbios-guest/hvbios-guest-toolchain.cmake"
cmake_build() {  # cmake_build DIR [configure args...] [-- targets...]
  local dir="$1" configure=() targets=()
  shift
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do configure+=("$1"); shift; done
  [ $# -eq 0 ] || { shift; targets=(--target "$@"); }
  cmake -S "${dir}" -B "${dir}/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="${prefix}" "${configure[@]}" \
    >"${dir}/configure.log" 2>&1 ||
    { cat "${dir}/configure.log"; fail "configuring ${dir}"; }
  cmake --build "${dir}/build" "${targets[@]}" >"${dir}/build.log" 2>&1 ||
    { cat "${dir}/build.log"; fail "building ${dir}"; }
}

step "libhvbios.so exports the C API only"
so="$(readlink -f "${libdir}/libhvbios.so")"
[ "$(readelf -d "${so}" | grep -o 'soname: \[[^]]*\]')" = \
  "soname: [libhvbios.so.0]" ] || fail "SONAME of ${so}"
exported="$(nm -D --defined-only "${so}" | awk '$2 != "A" {print $3}')"
echo "    $(echo "${exported}" | wc -l) symbols:" \
  "$(echo "${exported}" | head -n 3 | tr '\n' ' ')..."
others="$(echo "${exported}" | grep -v '^hyperv_bios_' || true)"
[ -z "${others}" ] || fail "libhvbios.so exports more than the C API: ${others}"
[ "$(echo "${exported}" | wc -l)" -eq \
  "$(grep -ho 'hyperv_bios_[a-z0-9_]*(' "${prefix}/include/hvbios/hvbios.h" |
     sort -u | wc -l)" ] || fail "exports differ from hvbios.h's functions"

step "C VMM, CMake find_package(hvbios 0.5)"
cp -r "${package_dir}/c_vmm" "${work}/"
cp "${source_dir}/examples/vmm/embed.c" "${work}/c_vmm/"
cmake_build "${work}/c_vmm"
on_kvm "Hello from an hvbios guest.*command line: outside.*code 0" \
  "${work}/c_vmm/build/embed" "${guests}/hello.elf" outside

step "C VMM, pkg-config only"
libs="$(pkg-config --libs hvbios)"
echo "    pkg-config --libs hvbios: ${libs}"
case "${libs}" in *absl*) fail "Abseil in the C link line" ;; esac
cc -std=c11 -Wall -Werror -o "${work}/embed-pc" \
  "${source_dir}/examples/vmm/embed.c" $(pkg-config --cflags hvbios) ${libs}
on_kvm "Hello from an hvbios guest.*code 0" \
  env LD_LIBRARY_PATH="${libdir}" "${work}/embed-pc" "${guests}/hello.elf"

step "C++ VMM, CMake hvbios::kvm"
cp -r "${package_dir}/cxx_vmm" "${work}/"
cp "${source_dir}/examples/vmm/lifecycle.cc" "${work}/cxx_vmm/"
cmake_build "${work}/cxx_vmm"
on_kvm "4 of 4 vCPUs took part.*shutdown, code 0" \
  "${work}/cxx_vmm/build/lifecycle" "${guests}/smp.elf" 4

step "guest, CMake with the SDK's toolchain file"
cp -r "${package_dir}/guest_cmake" "${work}/"
cp "${source_dir}/examples/guests/hello/hello.c" "${work}/guest_cmake/"
cmake_build "${work}/guest_cmake" -DCMAKE_TOOLCHAIN_FILE="${toolchain}"
hello="${work}/guest_cmake/build/hello.elf"
expect "Hello from an hvbios guest" "${prefix}/bin/hvbios-qemu" "${hello}"
# The installed image builder, with the installed firmware: the image boots
# through SeaBIOS and GRUB.
"${prefix}/bin/hvbios-mkimage" --cmdline "from the image" -o "${work}/hello.iso" \
  "${hello}" || fail "hvbios-mkimage"
expect "command line: from the image" "${prefix}/bin/hvbios-qemu" \
  --image "${work}/hello.iso"
on_kvm "Hello from an hvbios guest" "${prefix}/bin/hvbios-run" "${hello}"

step "guest, plain Make with its own _start"
cp -r "${package_dir}/guest_make" "${work}/"
make -C "${work}/guest_make" >"${work}/make.log" 2>&1 ||
  { cat "${work}/make.log"; fail "make"; }
own="${work}/guest_make/own_start.elf"
nm "${own}" | grep -q ' hvb_start_c$' && fail "the SDK's start file was linked"
expect "own _start: ABI 0\.[0-9]+, 2 vCPU.*vCPU 1 ran: 101" \
  "${prefix}/bin/hvbios-qemu" --cpus 2 "${own}"
on_kvm "own _start: ABI 0\.[0-9]+, 2 vCPU.*vCPU 1 ran: 101" \
  "${prefix}/bin/hvbios-run" --cpus 2 "${own}"

step "installed tools"
expect "Usage: hvbios-run" "${prefix}/bin/hvbios-run" --help
printf 'guest: "g.elf"\nvcpus: 300\n' >"${work}/vm.textproto"
expect "^hvbios-run --cpus=300 -- ${work}/g.elf $" \
  "${prefix}/bin/hvbios-profile" "${work}/vm.textproto"
# hvbios-run reads profiles through the hvbios-profile next to it: the
# profile's vCPU count arrives and is refused before any VM exists.
status=0
output="$(timeout 60 "${prefix}/bin/hvbios-run" \
  --profile "${work}/vm.textproto" 2>&1)" || status=$?
[ "${status}" -eq 121 ] && echo "${output}" | grep -q "254" ||
  fail "hvbios-run --profile: exit ${status}: ${output}"
expect "BM_Hypercall/call:0" "${prefix}/bin/hvbios-bench" \
  --benchmark_list_tests
on_kvm "BM_Hypercall/call:0/real_time +[0-9]" "${prefix}/bin/hvbios-bench" \
  --benchmark_filter='BM_Hypercall/call:0/' --benchmark_min_time=0.01
on_kvm "Hello from an hvbios guest" "${prefix}/bin/hvbios-run" \
  "${guests}/hello.elf"

if [ "${subproject}" = "--subproject" ]; then
  step "hvbios as a subproject (add_subdirectory), tests and benchmarks off"
  cp -r "${package_dir}/subproject" "${work}/"
  cp "${source_dir}/examples/vmm/embed.c" "${work}/subproject/"
  # The VMM and a guest: the whole project configures, what they need builds.
  cmake_build "${work}/subproject" -DHVBIOS_SOURCE_DIR="${source_dir}" \
    -- embed hello
  for target in core_test hvbios-bench; do
    ! cmake --build "${work}/subproject/build" --target help |
      grep -q "^${target}:" || fail "the subproject has a ${target} target"
  done
  on_kvm "Hello from an hvbios guest.*code 0" \
    "${work}/subproject/build/embed" \
    "${work}/subproject/build/hvbios/guests/hello.elf"
fi
echo "=== consumers built and ran against ${prefix}"
