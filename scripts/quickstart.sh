#!/usr/bin/env bash
# The README's first command: install what is needed, build the three
# programs, and run the main job: the scenario library (scenarios/), one line
# per scenario and a summary. Exits with the runner's code (0: all passed).
#   VMBUS_BUILD_DIR=DIR   build there (default: build/)
#   --configure-only      stop after configuring (the tests use this)
#
# A new build directory gets only the programs (no test suites, no
# benchmarks): its `ctest` then runs the scenario library and nothing that
# was not built. A directory configured before keeps its settings, and
# everything it is configured for is built.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${VMBUS_BUILD_DIR:-$root/build}

"$root/scripts/install-deps.sh"
echo "== building in $build"
settings=()
if [ ! -f "$build/CMakeCache.txt" ]; then
  settings=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DVMBUS_BUILD_TESTS=OFF -DVMBUS_BUILD_BENCHMARKS=OFF)
fi
cmake -S "$root" -B "$build" -G Ninja "${settings[@]}" >/dev/null
if [ "${1:-}" = "--configure-only" ]; then
  exit 0
fi
cmake --build "$build" -j "$(nproc)"

cd "$root"
echo
echo "== build/bin/vmbus-sim run scenarios   (the scenario library; docs/SCENARIOS.md)"
exec "$build/bin/vmbus-sim" run scenarios
