#!/usr/bin/env bash
# The README's first command: install what is needed, build, and run the
# main job. Until scenarios exist, the main job is the ring tool on a small
# built-in example: encode a few packets into a ring image that wraps around
# the end of its data area, then decode it, as a table and as JSON lines.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${VMBUS_BUILD_DIR:-$root/build}

"$root/scripts/install-deps.sh"
echo "== building in $build"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
# Only the three programs: the tests and benchmarks have their own commands.
cmake --build "$build" -j "$(nproc)" --target vmbus-sim vmbus-host vmbus-guest

sim="$build/bin/vmbus-sim"
example="$root/docs/examples/ring-demo.jsonl"
image="$build/ring-demo.img"

echo
echo "== $sim ring encode --data-size 4096 --start-index 3968 $image < docs/examples/ring-demo.jsonl"
"$sim" ring encode --data-size 4096 --start-index 3968 "$image" <"$example"
echo
echo "== $sim ring decode --text $image"
"$sim" ring decode --text "$image"
echo
echo "== $sim ring decode $image"
"$sim" ring decode "$image"
echo
echo "== $sim simulate   (vmbus-host and vmbus-guest under the simulated hypervisor)"
"$sim" simulate --trace "$build/simulate-demo.trace"
