#!/usr/bin/env bash
# Fuzzing campaigns (docs/SECURITY.md).
#   scripts/fuzz.sh [TARGET...] [--seconds N] [--jobs J] [--build-only]
# Builds the libFuzzer targets with clang, ASan and UBSan into build-fuzz/
# (once; again when sources changed) and runs each TARGET (default: all) for
# N seconds (default 60) starting from its seed corpus fuzz/corpus/TARGET.
# New coverage goes to build-fuzz/findings/TARGET/corpus; a crash, leak,
# sanitizer report or broken invariant stops that target and its input is
# saved as build-fuzz/findings/TARGET/crash-<sha1>. To keep a crash as a
# regression input once fixed, copy it into fuzz/corpus/TARGET/.
# Exit status: 0 no target failed, 1 a target failed, 2 usage.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${VMBUS_FUZZ_BUILD:-$root/build-fuzz}
all_targets=(ring_reader ring_writer ring_decode channel_message gpadl ipc_frame scenario_load
             trace_read)
seconds=60 jobs=1 build_only=0 targets=()
usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) seconds=${2:?--seconds needs a number}; shift 2 ;;
    --jobs) jobs=${2:?--jobs needs a number}; shift 2 ;;
    --build-only) build_only=1; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
case $seconds in ''|*[!0-9]*) echo "fuzz.sh: --seconds needs a whole number" >&2; exit 2 ;; esac
case $jobs in ''|*[!0-9]*|0) echo "fuzz.sh: --jobs needs a positive number" >&2; exit 2 ;; esac
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  [[ " ${all_targets[*]} " == *" $t "* ]] || {
    echo "fuzz.sh: unknown target '$t' (known: ${all_targets[*]})" >&2; exit 2; }
done

command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ is missing (scripts/install-deps.sh installs it)" >&2; exit 2; }
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=clang++ \
  -DVMBUS_FUZZ=ON -DVMBUS_BUILD_TESTS=OFF -DVMBUS_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build "$build" -j "$(nproc)"
[ $build_only -eq 0 ] || exit 0

failed=0
for t in "${targets[@]}"; do
  findings="$build/findings/$t"
  mkdir -p "$findings/corpus"
  echo "== fuzz $t for ${seconds}s"
  parallel=()
  # With -jobs, libFuzzer writes fuzz-N.log files into the current directory.
  [ "$jobs" -eq 1 ] || parallel=(-jobs="$jobs" -workers="$jobs")
  [ ! -f "$root/fuzz/$t.dict" ] || parallel+=(-dict="$root/fuzz/$t.dict")
  if ! (cd "$findings" && "$build/fuzz/fuzz_$t" -max_total_time="$seconds" "${parallel[@]}" \
      -max_len=16384 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$findings/" "$findings/corpus" "$root/fuzz/corpus/$t") \
      2>&1 | tee "$findings/log" | grep -E "^#[0-9]+.*(DONE|pulse)|stat::number_of_executed_units|ERROR|invariant"; then
    :
  fi
  if ls "$findings"/crash-* "$findings"/leak-* "$findings"/timeout-* >/dev/null 2>&1; then
    echo "fuzz.sh: $t FAILED; inputs in $findings" >&2
    failed=1
  fi
done
exit $failed
