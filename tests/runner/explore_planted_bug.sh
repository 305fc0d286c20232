#!/usr/bin/env bash
# With the planted ring bug (the reader skips its end-of-read re-check),
# `vmbus-sim explore` over the scenario library must find a lost wakeup
# within seeds 1..1000, and print its repro line.
# usage: explore_planted_bug.sh VMBUS_SIM SOURCE_DIR
set -u
sim=$1
cd "$2" || exit 1
out=$(mktemp "${TMPDIR:-/tmp}/vmbus-explore-planted.XXXXXX")
trap 'rm -f "$out"' EXIT
# --verbose: the lost wakeup may be the run's second failure, after an
# expectation it broke (a completion that never came).
"$sim" explore scenarios --seeds 1..1000 --fail-fast --verbose --jobs 2 > "$out" 2>&1
status=$?
if [ "$status" -ne 1 ] || ! grep -q "oracle lost_wakeup fired" "$out"; then
  echo "FAIL: explore did not find the planted lost wakeup (exit $status)"
  cat "$out"
  exit 1
fi
grep -m1 -A2 "oracle lost_wakeup fired" "$out"
grep -q "repro: vmbus-sim replay " "$out" || { echo "FAIL: no repro line"; exit 1; }
echo "explore found the planted lost wakeup"
