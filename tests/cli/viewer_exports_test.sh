#!/usr/bin/env bash
# Every library scenario's trace (seed 1) and a simulate run exported as
# Chrome JSON pass check_chrome_trace.py (every flow binds in DevTools and
# in Perfetto, every process and thread is named, slices nest); the
# simulate run is exported as Perfetto and HTML too.
#
# usage: viewer_exports_test.sh VMBUS_SIM SOURCE_DIR
# Exits 77 (CTest's SKIP_RETURN_CODE for this test) without python3.
set -euo pipefail

sim=$1
source_dir=$2
checker="$source_dir/tests/cli/check_chrome_trace.py"

if ! command -v python3 >/dev/null 2>&1; then
  echo "SKIP: python3 is not installed"
  exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/vmbus-viewer-test.XXXXXX")
trap 'rm -rf "$work"' EXIT

cd "$source_dir"
"$sim" run scenarios --seed 1 --quiet --trace-dir "$work/traces" >/dev/null
"$sim" simulate --seed 1 --trace "$work/traces/simulate.seed1.trace" >/dev/null

traces=("$work"/traces/*.trace)
[ "${#traces[@]}" -ge 30 ] || { echo "FAIL: only ${#traces[@]} traces" >&2; exit 1; }
jsons=()
for trace in "${traces[@]}"; do
  name=$(basename "$trace" .trace)
  "$sim" trace export --format=chrome -o "$work/$name.json" "$trace"
  jsons+=("$work/$name.json")
done
for format in perfetto html; do
  "$sim" trace export --format=$format -o "$work/simulate.$format" "$work/traces/simulate.seed1.trace"
  [ -s "$work/simulate.$format" ] || { echo "FAIL: empty $format export" >&2; exit 1; }
done
python3 "$checker" "${jsons[@]}" >"$work/check.log" || { cat "$work/check.log" >&2; exit 1; }

# The checker itself refuses what the viewers would not draw: a flow of
# another category than its slice, a thread without a name, no hypervisor.
cat >"$work/bad.json" <<'JSON'
{"traceEvents":[
{"name":"process_name","ph":"M","pid":1,"args":{"name":"host"}},
{"name":"send","cat":"kmcl","ph":"X","ts":1.000,"dur":0.100,"pid":1,"tid":10,"args":{}},
{"name":"packet","cat":"flow","ph":"s","ts":1.000,"pid":1,"tid":10,"id":1},
{"name":"packet","cat":"flow","ph":"f","ts":2.000,"pid":1,"tid":10,"id":1,"bp":"e"}
]}
JSON
if python3 "$checker" "$work/bad.json" >"$work/bad.log"; then
  echo "FAIL: the checker accepted a trace the viewers would not draw" >&2
  exit 1
fi
for problem in "the hypervisor process is not named" "thread (1, 10) has events but no thread_name" \
  "flow 1 's' at 1000 ns on (1, 10) binds to 0 slices of category 'flow' (DevTools)"; do
  grep -qF "$problem" "$work/bad.log" || { echo "FAIL: the checker did not say: $problem" >&2; cat "$work/bad.log" >&2; exit 1; }
done
echo "ok: ${#traces[@]} traces exported as Chrome JSON and checked"
