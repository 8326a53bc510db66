#!/bin/bash
# Builds and runs the whole test suite on each preset given (default:
# "default asan tsan"). KVM tests need /dev/kvm; where it is absent they skip and
# say so. A failing preset does not stop the others, so one run reports every
# failure; the exit status is non-zero if any preset failed.
set -uo pipefail
cd "$(dirname "$0")/.."
presets=("$@")
[ ${#presets[@]} -gt 0 ] || presets=(default asan tsan)
failed=()
for preset in "${presets[@]}"; do
  echo "=== preset ${preset}"
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
