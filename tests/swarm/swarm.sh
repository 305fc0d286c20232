#!/usr/bin/env bash
# The hostile-partition swarm: generates scenarios from seeds A..B (swarm_gen;
# SIDE host: a hostile host, guest: a hostile guest) and runs each once
# through the three programs of this build. Passing and failing runs are both
# fine -- a hostile peer may well trip an oracle -- but no run may end as an
# ERROR: a partition crash (a sanitizer report aborts the process), a hang,
# or the simulator failing (exit 3).
#   tests/swarm/swarm.sh BIN_DIR SWARM_GEN A..B [JOBS [SIDE]]
set -euo pipefail
bin=$1 gen=$2 seeds=$3 jobs=${4:-1} side=${5:-host}
work=$(mktemp -d "${TMPDIR:-/tmp}/vmbus-swarm.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$gen" --seeds "$seeds" --out "$work/scenarios" --side "$side"
status=0
"$bin/vmbus-sim" run "$work/scenarios" --quiet --jobs "$jobs" --json "$work/results.json" \
  --artifacts "$work/failed" >"$work/out" 2>&1 || status=$?
grep -E "run\(s\) of" "$work/out" | tail -n 1 || tail -n 1 "$work/out"
errors=$(grep -c '"verdict": "ERROR"' "$work/results.json" || true)
if [ "$status" -gt 1 ] || [ "$errors" -ne 0 ]; then
  grep -E "ERROR" "$work/out" | head -n 20
  kept=$(mktemp -d "${TMPDIR:-/tmp}/vmbus-swarm-failed.XXXXXX")
  cp -r "$work/scenarios" "$work/results.json" "$kept/"
  echo "swarm: exit status $status, $errors run(s) ended as ERROR; scenarios kept in $kept" >&2
  exit 1
fi
