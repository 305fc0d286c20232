#!/usr/bin/env bash
# The README's second command (and what CI runs): install what is needed,
# then build and run the whole test suite twice: a normal g++ build, and a
# clang build with AddressSanitizer + UndefinedBehaviorSanitizer that also
# builds the libFuzzer targets of fuzz/ and runs each over its seed corpus
# for a fixed number of executions.
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
# One clang build serves the sanitizers and the fuzzers (two builds of the
# same sources cost CI minutes it does not have): VMBUS_FUZZ instruments
# everything with ASan+UBSan, the suite runs under them, and the fuzz smoke
# (label fuzz) runs on the targets built beside it. clang's warnings are
# errors too (it warns about things g++ does not, an unused private field,
# ...). The package tests (install, then build projects out of tree) check
# packaging, not memory safety: the g++ suite runs them.
run_suite asan+ubsan+fuzz "$root/build-asan" "--label-exclude opt-in|package" \
  -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_FLAGS_RELEASE=-O1 -g1" "-DCMAKE_C_FLAGS_RELEASE=-O1 -g1" \
  -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang -DVMBUS_FUZZ=ON
echo "== all test suites passed"
