#!/bin/bash
# Installs what building and testing hvbios needs on Debian 12, all from
# Debian's packages. Does nothing (and needs no network) when everything is
# already installed.
set -euo pipefail
packages=(
  cmake ninja-build g++ make
  libabsl-dev          # Status, StrFormat, Mutex, time
  libprotobuf-dev protobuf-compiler  # VM profiles (proto/)
  libgtest-dev         # tests
  libbenchmark-dev     # bench/hvbios-bench
  linux-libc-dev       # <linux/kvm.h>
  libseccomp-dev       # hvbios-run's sandbox (backends/kvm/sandbox.cc)
  libslirp-dev libglib2.0-dev  # hvbios-net-user: --net user (slirp.pc needs glib)
  qemu-system-x86      # the bare-metal firmware's PC (hvbios-qemu)
  grub-common grub-pc-bin grub-efi-amd64-bin xorriso mtools  # hvbios-mkimage
  ovmf                 # UEFI for QEMU: hvbios-qemu --image --uefi
  dpkg-dev file        # cpack's .deb: dpkg-shlibdeps computes Depends
  pkgconf              # tests/package: a VMM built with pkg-config alone
  clang-14 libclang-rt-14-dev  # the fuzz preset: libFuzzer (tests/fuzz/)
  iproute2 iputils-ping  # net tests: a TAP device in a network namespace
  gdb                  # debugging tests: gdb against hvbios-qemu --gdb
  gnuplot-nox          # hvbios-trace --plot, bench/report.py
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
    --no-install-recommends "${missing[@]}"
fi
