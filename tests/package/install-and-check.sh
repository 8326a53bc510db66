#!/bin/bash
# CTest's package_install: `cmake --install` of BUILD_DIR into a fresh
# prefix, then every outside consumer against it (check-consumers.sh).
#   install-and-check.sh BUILD_DIR
set -euo pipefail
readonly build_dir="$1"
readonly prefix="${build_dir}/package-test/prefix"
rm -rf "${prefix}"
cmake --install "${build_dir}" --prefix "${prefix}" >/dev/null
exec "$(dirname "$0")/check-consumers.sh" "${prefix}" --subproject
