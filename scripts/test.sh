#!/bin/bash
# Builds and runs the whole test suite on each preset given (default:
# "default asan tsan"). KVM tests need /dev/kvm; where it is absent they skip and
# say so.
set -euo pipefail
cd "$(dirname "$0")/.."
presets=("$@")
[ ${#presets[@]} -gt 0 ] || presets=(default asan tsan)
for preset in "${presets[@]}"; do
  echo "=== preset ${preset}"
  cmake --preset "${preset}" >/dev/null
  cmake --build --preset "${preset}"
  ctest --preset "${preset}" -j2
done
echo "=== all presets passed: ${presets[*]}"
