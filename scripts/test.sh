#!/usr/bin/env bash
# The README's second command (and what CI runs): install what is needed,
# build the programs with clang 14 (warnings are errors: clang warns about
# things g++ does not), then build and run the whole test suite twice: a
# normal build, and a build with AddressSanitizer + UndefinedBehaviorSanitizer.
#   VMBUS_TEST_JOBS=N   parallel test processes (default: number of cores)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=${VMBUS_TEST_JOBS:-$(nproc)}

"$root/scripts/install-deps.sh"

run_suite() {
  local name=$1 dir=$2
  shift 2
  echo "== [$name] building in $dir"
  "$root/scripts/build.sh" "$dir" -DVMBUS_BUILD_BENCHMARKS=OFF "$@"
  echo "== [$name] running tests"
  ctest --test-dir "$dir" --output-on-failure -j "$jobs" --label-exclude opt-in
}

# The programs only, unoptimised: a compile check, which is what catches
# clang's own warnings (an unused private field, ...) at a third of the cost
# of an optimised build with the test suites.
echo "== [clang] building the programs with clang++-14 in $root/build-clang"
"$root/scripts/build.sh" "$root/build-clang" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_COMPILER=clang++-14 "-DCMAKE_CXX_FLAGS_RELEASE=-O0" \
  -DVMBUS_BUILD_TESTS=OFF -DVMBUS_BUILD_BENCHMARKS=OFF

# Optimised, with line tables only (-g1): full debug info nearly doubles the
# compile time on a 2-core machine, and line numbers are what a failure needs.
run_suite release "$root/build-test" -DCMAKE_BUILD_TYPE=Release \
  "-DCMAKE_CXX_FLAGS_RELEASE=-O2 -g1"
run_suite asan+ubsan "$root/build-asan" -DCMAKE_BUILD_TYPE=Release \
  "-DCMAKE_CXX_FLAGS_RELEASE=-O1 -g1" -DVMBUS_SANITIZE_ADDRESS=ON
echo "== all test suites passed"
