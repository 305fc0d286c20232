#!/usr/bin/env bash
# The mutation proof of the regression library: puts each historical
# signalling bug back into the ring library's source (a mutant of
# sim/ring/src/ring.cc, with no quirk switched on), builds the three
# programs from that source in a scratch directory, runs the scenario
# library -- the scenarios, not the unit tests -- in both modes (with the
# regression scenarios' quirks and without, `--quirks off`), and prints a
# table: a mutant is caught when some scenario fails on it. Exits 0 only if
# every mutant is caught and the unmutated source passes.
#
#   scripts/mutation.sh [--build-root DIR] [--seeds A..B] [--jobs N]
#                       [--skip-baseline] [--list] [MUTANT...]
#
#   --build-root DIR  where the scratch trees go (default: build/mutation;
#                     each mutant gets DIR/NAME, kept for a look afterwards)
#   --seeds A..B      seeds of each library run (default: each file's own)
#   --jobs N          parallel builds and runs (default 2)
#   --skip-baseline   do not build and run the unmutated source first
#   --list            print the mutants and exit
#   MUTANT            only these (default: all; --list prints them)
#
# Opt-in (a build per mutant): `ctest -L mutation` runs it too. With ccache
# a mutant rebuilds little more than the ring library and the links: each
# scratch tree mirrors the checkout's layout (TREE/build beside TREE/sim),
# and CCACHE_BASEDIR (default: the checkout) makes the paths relative.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$here}"
build_root="$here/build/mutation"
seeds=""
jobs=2
baseline_run=1
only=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --build-root) build_root=$2; shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --skip-baseline) baseline_run=0; shift ;;
    --list) only=(--list); shift ;;
    -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "mutation.sh: unknown option $1" >&2; exit 2 ;;
    *) only+=("$1"); shift ;;
  esac
done

# name | historical bug | sed program applied to sim/ring/src/ring.cc.
# Each program must change the file (checked), so a refactor that moves
# the code it targets makes the mutant fail loudly instead of passing.
mutants=(
  "old-need-to-signal-on-read|Linux's first hv_need_to_signal_on_read(): blocked iff free < pending, wake iff free >= pending (433e19cf33d3)|s/free_now - bytes_read > pending ||/free_now - bytes_read >= pending ||/;s/if (free_now <= pending &&/if (free_now < pending \&\&/"
  "equals-case|hv_pkt_iter_close() before \"Fix ring buffer signaling\": wakes the writer when free == pending|s/if (free_now <= pending &&/if (free_now < pending \&\&/"
  "signal-skipped-while-masked|hv_pkt_iter_close() before \"Fix ring buffer signaling\": no wakeup while the reader's interrupt_mask is set|s/quirks_.has(base::Quirk::kReaderSkipsSignalWhileMasked) &&/true \&\&/"
  "no-recheck-after-unmask|end_read() without hv_end_read()'s re-check (the CVE-2025-40048 pattern)|s/if (quirks_.has(base::Quirk::kReaderSkipsRecheckAfterUnmask)) {/if (true) {/"
)

if [[ ${only[0]:-} == --list ]]; then
  for m in "${mutants[@]}"; do IFS='|' read -r name bug _ <<<"$m"; printf '%-30s %s\n' "$name" "$bug"; done
  exit 0
fi

mkdir -p "$build_root"
seed_args=()
[[ -n $seeds ]] && seed_args=(--seeds "$seeds")

# A copy of the checkout (tracked and untracked files, not the builds) with
# `program` applied; its programs built in TREE/build.
build_tree() {
  local name=$1 program=$2 tree="$build_root/$1"
  rm -rf "$tree"
  mkdir -p "$tree"
  (cd "$here" && git ls-files -z -co --exclude-standard | tar --null -T - -cf -) | tar -xf - -C "$tree"
  if [[ -n $program ]]; then
    cp "$tree/sim/ring/src/ring.cc" "$tree/ring.cc.orig"
    sed -i "$program" "$tree/sim/ring/src/ring.cc"
    if cmp -s "$tree/ring.cc.orig" "$tree/sim/ring/src/ring.cc"; then
      echo "mutation.sh: mutant $name does not apply to sim/ring/src/ring.cc" >&2
      return 2
    fi
  fi
  cmake -S "$tree" -B "$tree/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DVMBUS_BUILD_TESTS=OFF \
        -DVMBUS_BUILD_BENCHMARKS=OFF -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >"$tree/cmake.log" 2>&1
  cmake --build "$tree/build" -j"$jobs" --target vmbus-sim vmbus-host vmbus-guest \
        >"$tree/build.log" 2>&1
}

# Runs the library in both modes; prints the failing runs' scenario names.
run_library() {
  local tree=$1 sim="$1/build/bin/vmbus-sim" failed=""
  for mode in on off; do
    (cd "$tree" && "$sim" run scenarios --quiet --jobs "$jobs" --shard 1/1 --quirks "$mode" \
       "${seed_args[@]}" >"$tree/run-quirks-$mode.log" 2>&1) || true
    failed+=$(grep -E '^(FAIL|ERROR) ' "$tree/run-quirks-$mode.log" |
              sed -E "s|^[A-Z]+ +scenarios/([^ ]*)\\.textproto.*|\\1 (quirks $mode)|" | sort -u |
              tr '\n' ';' || true)
  done
  echo "$failed"
}

if [[ $baseline_run == 1 ]]; then
  echo "building and running the unmutated source ..."
  build_tree unmutated ""
  baseline=$(run_library "$build_root/unmutated")
  if [[ -n $baseline ]]; then
    echo "mutation.sh: the unmutated source already fails: $baseline" >&2
    exit 1
  fi
fi

status=0
rows=()
for m in "${mutants[@]}"; do
  IFS='|' read -r name bug program <<<"$m"
  if [[ ${#only[@]} -gt 0 ]] && [[ ! " ${only[*]} " == *" $name "* ]]; then
    continue
  fi
  echo "mutant $name ..."
  build_tree "$name" "$program" || { rows+=("| $name | $bug | (does not apply) | NOT RUN |"); status=1; continue; }
  failed=$(run_library "$build_root/$name")
  if [[ -n $failed ]]; then
    # The first few failing runs by name, then how many more.
    IFS=';' read -r -a runs <<<"${failed%;}"
    shown=$(printf '%s, ' "${runs[@]:0:4}")
    shown=${shown%, }
    [[ ${#runs[@]} -gt 4 ]] && shown+=" and $(( ${#runs[@]} - 4 )) more"
    rows+=("| $name | $bug | $shown | caught |")
  else
    rows+=("| $name | $bug | nothing failed | SURVIVED |")
    status=1
  fi
done

echo
echo "| mutant | historical bug | scenarios that fail on it | result |"
echo "|---|---|---|---|"
printf '%s\n' "${rows[@]}"
exit $status
