#!/bin/bash
# Builds and runs the whole test suite on each preset given (default:
# "default asan tsan package fuzz"). KVM tests need /dev/kvm; where it is
# absent they skip and say so. "package" builds the Debian packages and
# checks them from outside (tests/package/check-deb.sh); "fuzz" runs each
# libFuzzer target for a minute (tests/fuzz/). A failing preset does not stop
# the others, so one run reports every failure; the exit status is non-zero if
# any preset failed.
set -uo pipefail
cd "$(dirname "$0")/.."
presets=("$@")
[ ${#presets[@]} -gt 0 ] || presets=(default asan tsan package fuzz)
failed=()
for preset in "${presets[@]}"; do
  echo "=== preset ${preset}"
  if [ "${preset}" = package ]; then
    rm -rf build-package/packages
    cmake --workflow --preset package &&
      tests/package/check-deb.sh build-package/packages || failed+=(package)
    continue
  fi
  if ! { cmake --preset "${preset}" >/dev/null &&
         cmake --build --preset "${preset}" &&
         ctest --preset "${preset}" -j2; }; then
    failed+=("${preset}")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "=== FAILED presets: ${failed[*]}"
  exit 1
fi
echo "=== all presets passed: ${presets[*]}"
