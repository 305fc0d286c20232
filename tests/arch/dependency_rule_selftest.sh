#!/usr/bin/env bash
# The dependency-rule check must be able to fail: in a scratch tree with the
# project's folders, a hypervisor file that includes the partition runtime
# and the scenario schema must be reported, with file and line, and exit 1;
# the same tree without them must pass.
set -euo pipefail
check=$(cd "$(dirname "$0")" && pwd)/dependency_rule.sh
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for folder in sim/base sim/ring proto/wire sim/shm sim/ipc sim/trace sim/kmcl sim/partition host \
              guest sim/hypervisor sim/runner sim/cli sim/app; do
  mkdir -p "$scratch/$folder"
done
cat >"$scratch/sim/hypervisor/loop.cc" <<'CC'
#include "vmbus/hypervisor/loop.h"
#include "vmbus/wire/synic.h"
CC
"$check" "$scratch" >/dev/null
cat >>"$scratch/sim/hypervisor/loop.cc" <<'CC'
#include "vmbus/partition/partition.h"
#include "vmbus/proto/scenario.pb.h"
CC
set +e
out=$("$check" "$scratch")
status=$?
set -e
expect() {
  grep -qF -- "$1" <<<"$out" || { echo "missing: $1"; echo "$out"; exit 1; }
}
[ $status -eq 1 ] || { echo "exit $status, expected 1"; echo "$out"; exit 1; }
expect "sim/hypervisor/loop.cc:3: hypervisor may not include partition"
expect "sim/hypervisor/loop.cc:4: only the scenario engine includes the scenario schema"
expect "dependency_rule: 2 include(s) break the rule"
echo "dependency_rule_selftest: ok"
