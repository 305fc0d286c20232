#!/usr/bin/env bash
# ThreadSanitizer on what runs threads: the KMCL model's execution contexts
# (kmcl tests), two processes streaming through shared memory, a free-running
# simulation and a pass of the scenario library. Only those targets are
# built. Not yet part of scripts/test.sh: it joins the test command once its
# cost on CI's 2 cores is measured.
#   scripts/tsan.sh        (VMBUS_TEST_JOBS=N parallel tests, default: cores)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=${VMBUS_TEST_JOBS:-$(nproc)}
tsan="$root/build-tsan"
echo "== [tsan] building in $tsan"
cmake -S "$root" -B "$tsan" -G Ninja -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_FLAGS_RELEASE=-O1 -g1" \
  -DVMBUS_SANITIZE_THREAD=ON -DVMBUS_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build "$tsan" -j "$(nproc)" --target vmbus-sim vmbus-host vmbus-guest kmcl_test kmcl_c_api_test \
  shm_stream_test system_test
echo "== [tsan] running tests"
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 ${TSAN_OPTIONS:-}"
ctest --test-dir "$tsan" --output-on-failure -j "$jobs" \
  -R '^(kmcl\.|shm\.|system\.Traffic\.HundredThousandPacketsEchoedFreeRunning$)'
"$tsan/bin/vmbus-sim" run "$root/scenarios" --seeds 1..2 --quiet
echo "== tsan: no report"
