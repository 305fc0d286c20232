#!/usr/bin/env bash
# The README's first command: install what is needed, build the three
# programs, and run the main job: the scenario library (scenarios/), one line
# per scenario and a summary. Exits with the runner's code (0: all passed).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${VMBUS_BUILD_DIR:-$root/build}

"$root/scripts/install-deps.sh"
echo "== building in $build"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
# Only the three programs: the tests and benchmarks have their own commands.
cmake --build "$build" -j "$(nproc)" --target vmbus-sim vmbus-host vmbus-guest

cd "$root"
echo
echo "== build/bin/vmbus-sim run scenarios   (the scenario library; docs/SCENARIOS.md)"
exec "$build/bin/vmbus-sim" run scenarios
