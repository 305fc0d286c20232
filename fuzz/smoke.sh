#!/usr/bin/env bash
# One fuzz target's CI smoke run: every input of its seed corpus, then a
# fixed number of executions (fixed seed), in a scratch directory so the
# repository's corpus is never written. Any crash, sanitizer report, leak
# or broken invariant fails the test; the crashing input is kept and named.
#   fuzz/smoke.sh TARGET_BINARY CORPUS_DIR RUNS
# A dictionary fuzz/<target>.dict is used when it exists.
set -euo pipefail
binary=$1 corpus=$2 runs=$3
dict=()
target=$(basename "$binary")
target=${target#fuzz_}
[ ! -f "$(dirname "$0")/$target.dict" ] || dict=(-dict="$(dirname "$0")/$target.dict")
scratch=$(mktemp -d "${TMPDIR:-/tmp}/vmbus-fuzz-smoke.XXXXXX")
trap 'rm -rf "$scratch/new"' EXIT
mkdir -p "$scratch/new"
if "$binary" "${dict[@]}" -seed=1 -runs="$runs" -max_len=16384 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$scratch/" -print_final_stats=1 "$scratch/new" "$corpus" \
    >"$scratch/log" 2>&1; then
  grep -E "stat::number_of_executed_units|Done [0-9]+ runs" "$scratch/log" || true
  rm -rf "$scratch"
  exit 0
fi
tail -n 60 "$scratch/log"
echo "fuzz smoke of $(basename "$binary") failed; crashing input and log kept in $scratch" >&2
exit 1
