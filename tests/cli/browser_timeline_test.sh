#!/usr/bin/env bash
# The HTML timeline of a library scenario in a real browser (Debian's
# chromium, headless): it renders without a console message or a script
# error, its self-check line reports the exact lanes, ring counters and
# packet lifelines the run has, its outline names them, and a screenshot is
# saved for people (and CI artifacts) to look at.
#
# usage: browser_timeline_test.sh VMBUS_SIM SOURCE_DIR SCREENSHOT_DIR
# Exits 77 (CTest's SKIP_RETURN_CODE for this test) when chromium is not
# installed: scripts/install-deps.sh installs it.
set -euo pipefail

sim=$1
source_dir=$2
screenshot_dir=$3

if ! command -v chromium >/dev/null 2>&1; then
  echo "SKIP: Debian's chromium is not installed (scripts/install-deps.sh installs it)"
  exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/vmbus-browser-test.XXXXXX")
trap 'rm -rf "$work"' EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# Scenario 14: the guest's interrupt mask; both rings with samples, a lifeline
# per packet.
cd "$source_dir"
"$sim" run scenarios/signals/14-interrupt-mask.textproto --seed 1 --quiet \
  --trace-dir "$work/traces" --json "$work/results.json" >/dev/null
"$sim" trace export --format=html --results "$work/results.json" -o "$work/timeline.html" \
  "$work/traces/interrupt-mask.seed1.trace"

mkdir -p "$screenshot_dir"
screenshot="$screenshot_dir/timeline-interrupt-mask.png"
rm -f "$screenshot"
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$work/profile" --window-size=1400,900 --hide-scrollbars \
  --enable-logging=stderr --v=0 --virtual-time-budget=5000 \
  --screenshot="$screenshot" --dump-dom "file://$work/timeline.html" \
  >"$work/dom.html" 2>"$work/chromium.log" || fail "chromium failed: $(tail -5 "$work/chromium.log")"

[ -s "$screenshot" ] || fail "no screenshot was written"
# The page logs nothing when all is well: any console line is a problem.
if grep -q ':CONSOLE' "$work/chromium.log"; then
  grep ':CONSOLE' "$work/chromium.log" >&2
  fail "the page wrote to the console"
fi

selfcheck=$(grep -o '<pre id="selfcheck">[^<]*' "$work/dom.html" | sed 's/.*>//')
# Trace format 6 (both ends of every ring, the final state): 20 lanes -- the
# run's final state (oracles, verdict) is a hypervisor lane of its own; 2
# ring counters -- the host's drain pass samples the guest-to-host ring too,
# where only the host-to-guest ring had records before; 50 flows -- each of
# the host's 20 publish_writes now flows to the guest's publish_read that
# consumed it; 399 slices -- 54 ring records of the KMCL endpoints and 11
# final-state records more.
expected="selfcheck lanes=20 counters=2 lifelines=21 flows=50 slices=399 findings=0"
case "$selfcheck" in
  "$expected drawn_slices="*" errors=0") ;;
  *) fail "self-check '$selfcheck', expected '$expected ... errors=0'" ;;
esac
# Every lifeline is drawn in the whole-run view; every slice is visited.
[[ $selfcheck == *" drawn_flows=21 "* ]] || fail "not every lifeline drawn: $selfcheck"

count() { grep -o "$1" "$work/dom.html" | wc -l; }
[ "$(count '<li>packet lifeline: completed, ')" = 21 ] || fail "21 completed lifelines expected"
for lane in 'guest / isr' 'guest / kmcl/1/dpc/1' 'host / kmcl/1/external' \
  'hypervisor / signals host-&gt;guest' 'hypervisor / messages guest-&gt;host'; do
  [ "$(count "<li>$lane</li>")" = 1 ] || fail "no lane '$lane' in the outline"
done
# Every ring record of either side samples its ring: the host's 20 writes
# and their signal decisions, the guest's begin_read, publish_read, signal
# decision and end_read of its two passes and the first, empty one, and the
# raw packet -- 52; the host's one empty pass over the other ring -- 3.
[ "$(count '<li>ring 1 host_to_guest: 52 samples, data area 12288 bytes</li>')" = 1 ] ||
  fail "no host_to_guest ring counter in the outline"
[ "$(count '<li>ring 1 guest_to_host: 3 samples, data area 12288 bytes</li>')" = 1 ] ||
  fail "no guest_to_host ring counter in the outline"
grep -q '<div id="verdict" class="verdict PASS">PASS  scenarios/signals/14-interrupt-mask.textproto</div>' \
  "$work/dom.html" || fail "the verdict is not at the top"

echo "ok: $selfcheck; screenshot $screenshot"
