#!/usr/bin/env bash
# The soak benchmark: long runs of the defer/complete-later mix through
# `vmbus-sim run` and `vmbus-sim simulate`, and the peak resident memory of
# each of the three processes (see docs/PERFORMANCE.md).
#
# Usage: bench/soak.sh [BUILD_DIR] [PACKETS...]
#   BUILD_DIR defaults to build-bench at the top of the repository (a
#   Release build of the programs, configured and built here); PACKETS
#   defaults to "100000 1000000".
#
# For each packet count N, the host sends N packets asking for completions
# to a guest KMCL driver that defers every third packet to its passive
# worker and completes every second one two steps later (the rest at
# once), with a transaction quota of 256 (as a real driver bounds what it
# holds; without one, packets pile up at the passive worker whenever the
# sender is ahead, and the guest's memory is the workload's backlog):
#   run       a scenario file with that topology and host_sends of 10,000
#             packets (the host queues one action's packets at once: its
#             memory follows the largest action, not N), each once the host
#             has seen every packet before it completed (vmbus-sim writes the trace,
#             follows the timeline's conditions and judges the run as it
#             goes)
#   simulate  the same channel from --host-config / --guest-config (the
#             host's send_packets; no trace)
# Every 200 ms the script reads VmHWM (the peak resident set) of vmbus-sim
# and of its partitions from /proc; the last reading of each is its peak.
# The trace goes to a temporary directory ($TMPDIR) and is deleted with it.
# Prints a table of peaks in MB and, per process, the ratio of the peak at
# the largest count to the peak at the smallest. Nothing is asserted: the
# figures are for docs/PERFORMANCE.md.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-${repo}/build-bench}"
shift || true
counts=("$@")
if [[ ${#counts[@]} -eq 0 ]]; then
  counts=(100000 1000000)
fi

if [[ ! -x "${build}/bin/vmbus-sim" ]]; then
  cmake -S "${repo}" -B "${build}" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DVMBUS_BUILD_BENCHMARKS=OFF -DVMBUS_BUILD_TESTS=OFF >/dev/null
  cmake --build "${build}" --target vmbus-sim vmbus-host vmbus-guest
fi
sim="${build}/bin/vmbus-sim"
work="$(mktemp -d "${TMPDIR:-/tmp}/vmbus-soak-XXXXXX")"
trap 'rm -rf "${work}"' EXIT

write_inputs() {
  local n=$1
  cat >"${work}/soak.textproto" <<EOF
name: "soak"
time_limit_us: 3600000000
topology {
  channel {
    name: "net"
    guest_driver {
      rule { every: 3 action { kind: KIND_DEFER } }
      rule { every: 2 action { kind: KIND_COMPLETE_LATER later_steps: 2 } }
      quota: 256
    }
  }
}
EOF
  # Batches of 10,000 packets, each once the packets before it have all
  # been completed.
  local sent=0 batch
  while ((sent < n)); do
    batch=$((n - sent < 10000 ? n - sent : 10000))
    if ((sent == 0)); then
      echo 'step { when { event { kmcl { callback: "PostStarted" } side: GUEST } }' \
        >>"${work}/soak.textproto"
    else
      echo "step { when { event { completion { status: \"STATUS_SUCCESS\" } side: HOST } count: ${sent} }" \
        >>"${work}/soak.textproto"
    fi
    echo "  host_send { channel: \"net\" count: ${batch} request_completion: true } }" \
      >>"${work}/soak.textproto"
    sent=$((sent + batch))
  done
  cat >"${work}/host.textproto" <<EOF
channels {
  child_relid: 1
  interface_guid: "f8615163-df3e-46c5-913f-f2d2f965ed0e"
  instance_guid: "00000000-0000-0000-0000-000000000001"
  vsp { kind: KIND_ECHO send_packets: ${n} request_completions: true }
}
EOF
  cat >"${work}/guest.textproto" <<EOF
kmcl_drivers {
  child_relid: 1
  expect_packets: ${n}
  rules { every: 3 action { kind: KIND_DEFER } }
  rules { every: 2 action { kind: KIND_COMPLETE_LATER later_steps: 2 } }
  quota: 256
}
EOF
}

# VmHWM of a process in kB, or nothing once it is gone.
peak_kb() {
  awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null || true
}

# Runs "$@" (vmbus-sim) in the background and samples the peaks of it and
# of its partitions until it ends; prints "sim host guest seconds status".
measure() {
  local start=$SECONDS sim_kb=0 host_kb=0 guest_kb=0 pid child comm kb status=0
  "$@" >"${work}/out.txt" 2>&1 &
  pid=$!
  while kill -0 "${pid}" 2>/dev/null; do
    kb=$(peak_kb "${pid}")
    [[ -n "${kb}" ]] && sim_kb=${kb}
    for child in $(cat /proc/"${pid}"/task/*/children 2>/dev/null); do
      comm=$(cat "/proc/${child}/comm" 2>/dev/null || true)
      kb=$(peak_kb "${child}")
      [[ -z "${kb}" ]] && continue
      case "${comm}" in
        vmbus-host) host_kb=${kb} ;;
        vmbus-guest) guest_kb=${kb} ;;
      esac
    done
    sleep 0.2
  done
  wait "${pid}" || status=$?
  echo "${sim_kb} ${host_kb} ${guest_kb} $((SECONDS - start)) ${status}"
}

mb() {
  awk -v kb="$1" 'BEGIN { printf "%.1f", kb / 1024 }'
}

echo "vmbus-sim soak: $("${sim}" --version)"
echo "load average before the runs: $(cat /proc/loadavg)"
printf '%-9s %10s %12s %12s %12s %8s %6s\n' command packets vmbus-sim vmbus-host vmbus-guest wall_s exit
declare -A peaks
for n in "${counts[@]}"; do
  write_inputs "${n}"
  read -r s h g t code < <(TMPDIR="${work}" measure "${sim}" run "${work}/soak.textproto" \
    --seed 1 --jobs 1 --quiet --timeout-ms 60000)
  printf '%-9s %10s %12s %12s %12s %8s %6s\n' run "${n}" "$(mb "$s")" "$(mb "$h")" "$(mb "$g")" "$t" "$code"
  peaks[run.$n]="$s $h $g"
  read -r s h g t code < <(measure "${sim}" simulate --host-config "${work}/host.textproto" \
    --guest-config "${work}/guest.textproto" --seed 1 --timeout-ms 60000)
  printf '%-9s %10s %12s %12s %12s %8s %6s\n' simulate "${n}" "$(mb "$s")" "$(mb "$h")" "$(mb "$g")" "$t" "$code"
  peaks[simulate.$n]="$s $h $g"
done

first=${counts[0]}
last=${counts[${#counts[@]} - 1]}
if [[ "${first}" != "${last}" ]]; then
  echo
  echo "peak at ${last} packets / peak at ${first} packets:"
  for command in run simulate; do
    read -r s1 h1 g1 <<<"${peaks[${command}.${first}]}"
    read -r s2 h2 g2 <<<"${peaks[${command}.${last}]}"
    awk -v c="${command}" -v s1="$s1" -v s2="$s2" -v h1="$h1" -v h2="$h2" -v g1="$g1" -v g2="$g2" \
      'function r(a, b) { return a > 0 ? sprintf("%.2f", b / a) : "-" }
       BEGIN { printf "%-9s vmbus-sim %s  vmbus-host %s  vmbus-guest %s\n", c, r(s1, s2), r(h1, h2), r(g1, g2) }'
  done
fi
