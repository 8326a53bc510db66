#!/bin/bash
# Runs one libFuzzer target (tests/fuzz/) from the fuzz preset's build:
#   scripts/fuzz.sh TARGET SECONDS [libFuzzer flags...]
# libFuzzer first runs every input of the target's corpus in the tree
# (tests/fuzz/corpus/TARGET/: seeds and the reproducers of past findings),
# then fuzzes for SECONDS, keeping new inputs in
# build-fuzz/tests/fuzz/corpus/TARGET (never in the tree: add a finding's
# reproducer to the corpus by hand, once it is fixed). Exit
# status non-zero on any crash, leak, timeout or failed FUZZ_CHECK; the
# reproducer is written to build-fuzz/fuzz-findings/.
# --binary PATH and --scratch DIR (CTest) override where the target and its
# new inputs are.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
binary="" scratch=""
while [[ $# -gt 0 && "$1" == --* ]]; do
  case "$1" in
    --binary) binary="$2"; shift 2 ;;
    --scratch) scratch="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
if [[ $# -lt 2 ]]; then
  echo "usage: scripts/fuzz.sh TARGET SECONDS [libFuzzer flags...]" >&2
  exit 2
fi
target="$1" seconds="$2"
shift 2
binary="${binary:-${root}/build-fuzz/bin/${target}}"
scratch="${scratch:-${root}/build-fuzz/tests/fuzz/corpus/${target}}"
seeds="${root}/tests/fuzz/corpus/${target}"
findings="${root}/build-fuzz/fuzz-findings"
[[ -x "${binary}" ]] || {
  echo "no ${binary}: cmake --workflow --preset fuzz first" >&2
  exit 2
}
mkdir -p "${scratch}" "${findings}"
dict=()
[[ -f "${seeds}.dict" ]] && dict=(-dict="${seeds}.dict")
exec "${binary}" -max_total_time="${seconds}" -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="${findings}/${target}-" \
  "${dict[@]}" "$@" "${scratch}" "${seeds}"
