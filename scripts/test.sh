#!/usr/bin/env bash
# The README's second command (and what CI runs): install what is needed,
# then build and run the whole test suite twice: a normal build, and a build
# with AddressSanitizer + UndefinedBehaviorSanitizer; then build everything
# with clang (warnings are errors there too) and run each libFuzzer target
# of fuzz/ over its seed corpus for a fixed number of executions.
#   VMBUS_TEST_JOBS=N   parallel test processes (default: number of cores)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=${VMBUS_TEST_JOBS:-$(nproc)}

"$root/scripts/install-deps.sh"

run_suite() {
  local name=$1 dir=$2 select=$3
  shift 3
  echo "== [$name] building in $dir"
  "$root/scripts/build.sh" "$dir" -DVMBUS_BUILD_BENCHMARKS=OFF "$@"
  echo "== [$name] running tests"
  ctest --test-dir "$dir" --output-on-failure -j "$jobs" $select
}

# Optimised, with line tables only (-g1): full debug info nearly doubles the
# compile time on a 2-core machine, and line numbers are what a failure needs.
run_suite release "$root/build-test" "--label-exclude opt-in" -DCMAKE_BUILD_TYPE=Release \
  "-DCMAKE_CXX_FLAGS_RELEASE=-O2 -g1"
# The package tests (install, then build projects out of tree) check packaging, not
# memory safety: the Release suite runs them.
run_suite asan+ubsan "$root/build-asan" "--label-exclude opt-in|package" -DCMAKE_BUILD_TYPE=Release \
  "-DCMAKE_CXX_FLAGS_RELEASE=-O1 -g1" -DVMBUS_SANITIZE_ADDRESS=ON
# clang builds the programs and the fuzz targets (the test suites are
# g++'s): its warnings are errors too (it warns about things g++ does not,
# an unused private field, ...), and the fuzz smoke runs on what it built.
run_suite clang+fuzz "$root/build-fuzz-smoke" "--label-regex ^fuzz$" -DCMAKE_BUILD_TYPE=Release \
  "-DCMAKE_CXX_FLAGS_RELEASE=-O1 -g1" -DCMAKE_CXX_COMPILER=clang++ -DVMBUS_FUZZ=ON \
  -DVMBUS_BUILD_TESTS=OFF
echo "== all test suites passed"
