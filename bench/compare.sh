#!/bin/bash
# The same guest loop on KVM (hvbios-run) and on the bare-metal firmware in
# QEMU (hvbios-qemu), per call, timed by the guest itself (call_loop's
# "timed" mode: the median of 11 rounds of 2000 calls):
#
#   bench/compare.sh [BUILD_DIR]        (default: build)
#
# The QEMU column is TCG emulation of a whole PC, not virtualization: it
# shows what the firmware's path costs relative to its own exits there, not
# how bare metal performs on hardware.
set -uo pipefail
build="${1:-build}"
guest="${build}/guests/call_loop.elf"
disk="$(mktemp "${TMPDIR:-/tmp}/hvbios-compare.XXXXXX")"
trap 'rm -f "${disk}"' EXIT
truncate -s 1M "${disk}"

median() {  # median NAME < "round NAME NS" lines
  awk -v name="$1" '$1 == "round" && $2 == name {print $3}' | sort -n |
    awk '{v[NR] = $1} END {if (NR) print v[int((NR + 1) / 2)]; else print "-"}'
}
run() {  # run RUNNER CALL: the median ns per call, or "-"
  timeout 300 "$1" --disk "${disk},ro" --cmdline "timed $2" "${guest}" \
    2>/dev/null | median "$2"
}

printf '%-10s %14s %22s\n' call "KVM ns/call" "QEMU TCG ns/call"
for call in null console clock block clockpage; do
  kvm="-"
  if [ -c /dev/kvm ]; then kvm="$(run "${build}/bin/hvbios-run" "${call}")"; fi
  qemu="$(run "${build}/bin/hvbios-qemu" "${call}")"
  printf '%-10s %14s %22s\n' "${call}" "${kvm}" "${qemu}"
done
[ -c /dev/kvm ] || echo "(no /dev/kvm here: the KVM column is empty)"
