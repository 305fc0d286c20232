#!/usr/bin/env bash
# Load time of the offline HTML timeline (vmbus-sim trace export
# --format=html) in headless Chromium, for traces of about 10,000 and
# 100,000 records: a guest burst of N packets that the host's VSP completes
# makes about 11.3 records per packet.
#
# usage: bench/timeline_load.sh [BUILD_DIR] [PACKETS...]   (default: build 870 8750)
# Prints, per trace: records, page size, and the page's own timings (the
# median of 3 loads): parse_ms (JSON.parse of the data), build_ms (the
# model), first_draw_ms, ready_ms (navigation start to the first picture,
# the browser's reading of the page included) and redraw_ms (one more
# whole-view draw: what a zoom or a pan costs).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
shift || true
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(870 8750)
sim="$build/bin/vmbus-sim"

work=$(mktemp -d "${TMPDIR:-/tmp}/vmbus-timeline-load.XXXXXX")
trap 'rm -rf "$work"' EXIT

median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

for packets in "${counts[@]}"; do
  cat >"$work/burst$packets.textproto" <<EOF
name: "timeline-load-$packets"
description: "A guest burst of $packets packets that the host's VSP completes."
topology { channel { name: "net" ring_pages: 8 host_vsp { kind: KIND_COMPLETE } } }
step {
  when { event { kmcl { callback: "PostStarted" } side: GUEST } }
  guest_send { channel: "net" payload { pattern { size: 64 counting: true } } count: $packets request_completion: true }
}
expect { counter { channel: "net" name: "packets_sent" value: $packets } }
EOF
  "$sim" run "$work/burst$packets.textproto" --quiet --trace-dir "$work/traces" >/dev/null
  trace="$work/traces/timeline-load-$packets.seed1.trace"
  page="$work/load$packets.html"
  "$sim" trace export --format=html -o "$page" "$trace"
  records=$("$sim" trace show "$trace" | tail -n +2 | wc -l)
  bytes=$(stat -c %s "$page")
  : >"$work/timings"
  for _ in 1 2 3; do
    chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
      --disable-background-networking --disable-component-update --disable-sync \
      --user-data-dir="$work/profile" --window-size=1400,900 --virtual-time-budget=30000 \
      --dump-dom "file://$page" 2>/dev/null |
      grep -o '<pre id="timing">[^<]*' | sed 's/.*>timing //' >>"$work/timings"
  done
  printf '%8d packets  %7d records  %6s MB  ' "$packets" "$records" \
    "$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1e6 }')"
  for key in parse_ms build_ms first_draw_ms ready_ms redraw_ms; do
    printf '%s=%s ' "$key" "$(grep -o "$key=[0-9.]*" "$work/timings" | cut -d= -f2 | median)"
  done
  echo
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
