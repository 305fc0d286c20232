#!/usr/bin/env bash
# The scenario engine's speed: scenario runs per second, CPU per run, and the
# floors under them, for one build or for several side by side.
#
# Usage: bench/engine_bench.sh [-n SEEDS] [-r REPS] [-o DIR] BUILD_DIR [BUILD_DIR...]
#   -n SEEDS  run the scenario library (scenarios/) over seeds 1..SEEDS
#             (default 4)
#   -r REPS   repetitions (default 5)
#   -o DIR    keep each measurement's raw output in DIR (default: a
#             temporary directory, deleted at the end)
# Each BUILD_DIR must hold bin/vmbus-sim, bin/vmbus-host and bin/vmbus-guest
# (a Release build). The first one is the baseline; with two or more builds
# every repetition measures each build in turn (interleaved), so that a
# change in the machine's load hits them alike, and the ratios are of
# measurements taken minutes apart at most.
#
# One repetition of one build measures:
#   jobs1, jobs2  `vmbus-sim run scenarios --seeds 1..SEEDS --jobs 1|2`:
#                 runs/s (wall) and CPU per run (user + system of vmbus-sim
#                 and both partitions, from wait4's rusage);
#   spawn         the floor of a run's start: vmbus-host and vmbus-guest
#                 started side by side with --version and waited for (20
#                 pairs): wall and CPU per pair;
#   ipc           the floor of a step: one 8-byte round trip over a Unix
#                 socket pair between two processes (20,000 of them).
# Prints the median of each figure per build over the repetitions, and for
# every further build its ratio to the baseline: the median of the
# per-repetition ratios (measured back to back). Also prints the load
# average before each repetition. Nothing is asserted (docs/PERFORMANCE.md).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seeds=4
reps=5
keep=""
while getopts "n:r:o:" opt; do
  case "${opt}" in
    n) seeds="${OPTARG}" ;;
    r) reps="${OPTARG}" ;;
    o) keep="${OPTARG}" ;;
    *) sed -n '2,13p' "$0" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
if [[ $# -lt 1 ]]; then
  sed -n '2,13p' "$0" >&2
  exit 2
fi
builds=()
for b in "$@"; do
  b="$(cd "${b}" && pwd)"
  for p in vmbus-sim vmbus-host vmbus-guest; do
    [[ -x "${b}/bin/${p}" ]] || { echo "engine_bench: no ${b}/bin/${p}" >&2; exit 2; }
  done
  builds+=("${b}")
done

if [[ -n "${keep}" ]]; then
  mkdir -p "${keep}"
  work="$(cd "${keep}" && pwd)"
else
  work="$(mktemp -d "${TMPDIR:-/tmp}/vmbus-engine-bench-XXXXXX")"
  trap 'rm -rf "${work}"' EXIT
fi

# The probe is one self-contained file; compiling it here keeps the script
# independent of how (and whether) the builds were configured for benchmarks.
probe="${work}/engine_probe"
c++ -std=c++20 -O2 -o "${probe}" "${repo}/bench/engine_probe.cc"

# field FILE KEY: the value of KEY=... on the probe's result line in FILE.
field() { grep -o "\\b$2=[^ ]*" "$1" | tail -1 | cut -d= -f2; }

results="${work}/results.tsv"  # rep build metric value
: >"${results}"
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"${results}"; }

measure_library() {  # rep build_index jobs
  local rep=$1 i=$2 jobs=$3 out="${work}/rep$1.build$2.jobs$3.txt"
  (cd "${repo}" && "${probe}" command -- "${builds[i]}/bin/vmbus-sim" run scenarios \
    --seeds "1..${seeds}" --jobs "${jobs}" --quiet --color never) >"${out}" 2>&1 || true
  local runs exit wall cpu
  runs="$(grep -o '^[0-9]* run(s) of' "${out}" | tail -1 | cut -d' ' -f1)"
  exit="$(field "${out}" exit)"
  if [[ -z "${runs}" || "${exit}" != 0 ]]; then
    echo "engine_bench: the library run failed (exit ${exit:-?}); see ${out}" >&2
    [[ -n "${keep}" ]] || cp "${out}" "${TMPDIR:-/tmp}/" 2>/dev/null || true
    exit 1
  fi
  wall="$(field "${out}" wall_s)"
  cpu="$(awk -v u="$(field "${out}" user_s)" -v s="$(field "${out}" sys_s)" 'BEGIN{print u+s}')"
  record "${rep}" "${i}" "jobs${jobs} runs/s" "$(awk -v r="${runs}" -v w="${wall}" 'BEGIN{print r/w}')"
  record "${rep}" "${i}" "jobs${jobs} CPU ms/run" "$(awk -v r="${runs}" -v c="${cpu}" 'BEGIN{print 1000*c/r}')"
}

measure_floors() {  # rep build_index
  local rep=$1 i=$2 out="${work}/rep$1.build$2.floors.txt"
  "${probe}" spawn-floor 20 "${builds[i]}/bin/vmbus-host" "${builds[i]}/bin/vmbus-guest" >"${out}"
  "${probe}" ipc-floor 20000 >>"${out}"
  record "${rep}" "${i}" "spawn floor wall ms/pair" \
    "$(awk -v v="$(field "${out}" wall_per_pair_s)" 'BEGIN{print 1000*v}')"
  record "${rep}" "${i}" "spawn floor CPU ms/pair" \
    "$(awk -v v="$(field "${out}" cpu_per_pair_s)" 'BEGIN{print 1000*v}')"
  record "${rep}" "${i}" "ipc floor wall us/round trip" \
    "$(awk -v v="$(field "${out}" wall_per_round_trip_s)" 'BEGIN{print 1e6*v}')"
}

echo "engine_bench: scenario library, seeds 1..${seeds}, ${reps} repetition(s), builds:"
for i in "${!builds[@]}"; do
  echo "  [${i}] ${builds[i]} ($("${builds[i]}/bin/vmbus-sim" --version 2>/dev/null | head -1))"
done
for rep in $(seq 1 "${reps}"); do
  echo "repetition ${rep}: load average $(cut -d' ' -f1-3 /proc/loadavg)"
  for i in "${!builds[@]}"; do
    measure_library "${rep}" "${i}" 1
    measure_library "${rep}" "${i}" 2
    measure_floors "${rep}" "${i}"
  done
done
echo "after the last repetition: load average $(cut -d' ' -f1-3 /proc/loadavg)"

# Medians per build and metric, then per-repetition ratios to build 0.
awk -F'\t' -v nb="${#builds[@]}" '
  function median(list,   n, a, i, j, t) {
    n = split(list, a, " ")
    for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  {
    if (!($3 in seen)) { seen[$3] = 1; order[++m] = $3 }
    v[$2, $3] = v[$2, $3] " " $4
    val[$1, $2, $3] = $4; reps[$1] = 1
  }
  END {
    printf "\n%-30s", "median"
    for (b = 0; b < nb; b++) printf "  %12s", "[" b "]"
    for (b = 1; b < nb; b++) printf "  %12s", "[" b "]/[0]"
    printf "\n"
    for (k = 1; k <= m; k++) {
      name = order[k]
      printf "%-30s", name
      for (b = 0; b < nb; b++) printf "  %12.3f", median(v[b, name])
      for (b = 1; b < nb; b++) {
        list = ""
        for (r in reps) if (val[r, 0, name] > 0) list = list " " val[r, b, name] / val[r, 0, name]
        printf "  %11.3fx", median(list)
      }
      printf "\n"
    }
  }' "${results}"
echo "(ratios: median over the repetitions of build/baseline measured back to back)"
echo "raw figures: ${results}"
