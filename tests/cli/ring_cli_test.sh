#!/usr/bin/env bash
# End-to-end test of the real vmbus-sim binary: encode | decode | encode
# reproduces the image, and a file that is not a ring image exits 2.
# Usage: ring_cli_test.sh PATH_TO_VMBUS_SIM
set -euo pipefail

bin="$1"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

cat > "$work/packets.jsonl" <<'JSON'
{"type":6,"flags":1,"trans_id":7,"payload":"0102030405"}

{"type":11,"flags":0,"trans_id":18446744073709551615,"offset8":3,"payload":""}
JSON

"$bin" ring encode --data-size 4096 --start-index 4072 "$work/a.img" < "$work/packets.jsonl"
[[ "$(stat -c %s "$work/a.img")" == 8192 ]] || fail "a.img is not 8192 bytes"

expected='{"write_index":40,"read_index":4072,"interrupt_mask":0,"pending_send_sz":0,"feature_bits":1,"data_size":4096}
{"offset":4072,"type":6,"flags":1,"trans_id":7,"offset8":2,"len8":3,"payload":"0102030405000000"}
{"offset":8,"type":11,"flags":0,"trans_id":18446744073709551615,"offset8":3,"len8":3,"payload":""}'
actual="$("$bin" ring decode "$work/a.img")"
[[ "$actual" == "$expected" ]] || fail "decode printed:
$actual"

"$bin" ring decode "$work/a.img" |
  "$bin" ring encode --data-size 4096 --start-index 4072 "$work/b.img"
cmp "$work/a.img" "$work/b.img" || fail "decode | encode changed the image"

head -c 4097 /dev/zero > "$work/bad.img"
status=0
"$bin" ring decode "$work/bad.img" > "$work/out" 2> "$work/err" || status=$?
[[ "$status" == 2 ]] || fail "decode of a 4097-byte file exited $status, not 2"
[[ ! -s "$work/out" ]] || fail "decode of a 4097-byte file printed to stdout"
grep -q "is not a ring image: its size is 4097 bytes" "$work/err" ||
  fail "unexpected message: $(cat "$work/err")"

status=0
"$bin" ring frobnicate > /dev/null 2>&1 || status=$?
[[ "$status" == 2 ]] || fail "unknown subcommand exited $status, not 2"
"$bin" ring --help | grep -q "^Usage: vmbus-sim ring <command>" || fail "ring --help"

echo "PASS"
