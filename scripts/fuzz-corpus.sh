#!/usr/bin/env bash
# Regenerates the fuzz targets' seed corpora (fuzz/corpus/<target>/) from the
# library's own runs: every scenario file, the traces of one pass of the
# library, the control messages, GPADLs and IPC frames those traces hold, and
# ring images written by `vmbus-sim ring encode`. Each corpus is then
# reduced to the inputs that add coverage (libFuzzer -merge=1), so what is
# committed stays small.
#   scripts/fuzz-corpus.sh [FUZZ_BUILD_DIR]   (default: build-fuzz)
# The fuzz build is made by scripts/fuzz.sh --build-only if it is missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-fuzz}
[ -x "$build/fuzz/fuzz_corpus_gen" ] || "$root/scripts/fuzz.sh" --build-only
work=$(mktemp -d "${TMPDIR:-/tmp}/vmbus-fuzz-corpus.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "fuzz-corpus: one pass of the scenario library"
"$build/bin/vmbus-sim" run "$root/scenarios" --seed 1 --quiet --trace-dir "$work/traces" >/dev/null

echo "fuzz-corpus: ring images"
mkdir -p "$work/rings"
encode() {  # NAME DATA_SIZE START_INDEX, packet lines on stdin
  "$build/bin/vmbus-sim" ring encode --data-size "$2" --start-index "$3" "$work/rings/$1.img"
}
printf '' | encode empty 4096 0
printf '{"type":6,"flags":1,"trans_id":1,"payload":"68656c6c6f"}\n' | encode one 4096 0
for i in 1 2 3 4 5 6; do
  printf '{"type":6,"flags":0,"trans_id":%d,"payload":"%s"}\n' "$i" "$(printf '%0400d' "$i")"
done | encode wrapped 4096 3072
printf '{"type":9,"flags":1,"trans_id":7,"offset8":4,"payload":"0001020304050607"}\n{"type":11,"flags":0,"trans_id":8,"payload":"ff"}\n' |
  encode kinds 8192 8000

mkdir -p "$work/raw/scenario_load"
find "$root/scenarios" "$root/tests/runner" -name '*.textproto' -exec cp {} "$work/raw/scenario_load/" \;
"$build/fuzz/fuzz_corpus_gen" "$work/raw" "$work"/traces/*.trace --ring "$work"/rings/*.img

for raw in "$work"/raw/*/; do
  target=$(basename "$raw")
  out="$root/fuzz/corpus/$target"
  mkdir -p "$out"
  # Keep what is already committed (crash regressions among it), add what
  # brings new coverage.
  "$build/fuzz/fuzz_$target" -merge=1 -max_len=65536 "$out" "$raw" >"$work/merge-$target.log" 2>&1
  echo "fuzz-corpus: $target: $(ls "$out" | wc -l) input(s), $(du -sh "$out" | cut -f1)"
done
