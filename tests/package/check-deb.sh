#!/bin/bash
# The Debian packages cpack made (cmake --workflow --preset package):
#   check-deb.sh PACKAGE_DIR
# Their control fields and contents, then every outside consumer against
# them unpacked into a temporary root (dpkg-deb -x: nothing is installed
# here; the fresh-Debian check installs them with apt-get).
set -euo pipefail
readonly dir="$1"
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
runtime="$(ls "${dir}"/hvbios_*_amd64.deb)"
dev="$(ls "${dir}"/hvbios-dev_*_amd64.deb)"
root="$(mktemp -d "${TMPDIR:-/tmp}/hvbios-deb.XXXXXX")"
trap 'rm -rf "${root}"' EXIT

for deb in "${runtime}" "${dev}"; do
  echo "--- $(basename "${deb}")"
  dpkg-deb -f "${deb}" Package Version Depends | sed 's/^/    /'
  # Every dependency is a Debian package: installed here, or known to apt.
  for name in $(dpkg-deb -f "${deb}" Depends | tr ',|' '\n\n' |
                sed 's/(.*//; s/ //g'); do
    [ "${name}" = hvbios ] && continue
    dpkg-query -W "${name}" >/dev/null 2>&1 ||
      apt-cache show "${name}" >/dev/null 2>&1 ||
      fail "$(basename "${deb}") depends on ${name}, which Debian lacks"
  done
  dpkg-deb -x "${deb}" "${root}"
done

# What goes where: the runtime has no headers, the dev package no tools.
dpkg-deb -c "${runtime}" | grep -q '/usr/include/' && fail "headers in hvbios"
dpkg-deb -c "${dev}" | grep -q '/usr/bin/' && fail "programs in hvbios-dev"
for path in usr/bin/hvbios-run usr/bin/hvbios-profile usr/bin/hvbios-trace usr/bin/hvbios-qemu \
            usr/bin/hvbios-mkimage \
            usr/bin/hvbios-bench usr/bin/hvbios-net-user \
            usr/lib/x86_64-linux-gnu/libhvbios.so.0 \
            usr/lib/x86_64-linux-gnu/libhvbios.so \
            usr/lib/x86_64-linux-gnu/hvbios/hvbios-firmware.elf \
            usr/lib/x86_64-linux-gnu/cmake/hvbios/hvbiosConfig.cmake \
            usr/lib/x86_64-linux-gnu/pkgconfig/hvbios.pc \
            usr/lib/x86_64-linux-gnu/hvbios-guest/libhvbios-guest.a \
            usr/include/hvbios/hvbios.h usr/include/hvbios/guest/hvb.h \
            usr/include/hvbios/net.h usr/include/hvbios/abi/net.h \
            usr/include/hvbios/trace.h \
            usr/share/hvbios/guests/hello.elf \
            usr/share/hvbios/guests/netecho.elf; do
  [ -e "${root}/${path}" ] || fail "/${path} is in neither package"
done
exec "$(dirname "$0")/check-consumers.sh" "${root}/usr"
