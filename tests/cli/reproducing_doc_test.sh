#!/usr/bin/env bash
# Runs every ```sh block of docs/REPRODUCING.md, in order, as a support
# engineer would from the repository root -- in a scratch copy of what the
# page reads (docs/examples), with vmbus-sim first on PATH -- and checks
# what the page says the commands show.
# usage: reproducing_doc_test.sh VMBUS_SIM SOURCE_DIR
set -u
sim=$1
src=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/vmbus-reproducing-doc.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/docs"
cp -r "$src/docs/examples" "$work/docs/"
export PATH="$(dirname "$sim"):$PATH"

# The blocks, one script: a failing command stops it (set -e), except
# where the page itself shows the exit status with `|| echo "exit $?"`.
awk '/^```sh$/ {inside=1; next} /^```$/ {inside=0; next} inside {print}' \
    "$src/docs/REPRODUCING.md" > "$work/commands.sh"
(cd "$work" && bash -e -o pipefail commands.sh) > "$work/out.txt" 2>&1
status=$?
fail() {
  echo "FAIL: $1"
  echo "--- output ---"
  cat "$work/out.txt"
  exit 1
}
[ "$status" -eq 0 ] || fail "the commands ended with exit $status"
expect() {
  grep -qF -- "$1" "$work/out.txt" || fail "the output does not show: $1"
}
expect 'corrupt packet at offset 32: offset8 is greater than len8'
expect 'exit 1'
expect 'incoming ring corrupt: offset8_beyond_len8 at offset 32'
expect 'repro: vmbus-sim replay '
expect ' records, byte for byte'
expect "oracle lost_wakeup fired on 'storage'"
expect 'after:  2 steps, 1 channel'
expect 'on its own: FAIL '
expect '1 run(s) of 1 scenario(s): 1 passed'
expect '20 run(s) of 1 scenario(s): 20 passed, 0 failed, 0 errors'
[ -f "$work/scenarios/support/storage-stall.shrunk.textproto" ] || fail "no shrunk scenario"
echo "every command of docs/REPRODUCING.md ran as the page says"
