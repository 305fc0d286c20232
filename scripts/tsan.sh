#!/usr/bin/env bash
# ThreadSanitizer on what runs threads: the KMCL model's execution contexts
# and its C API (kmcl tests), two processes streaming through shared memory
# (shm tests), vmbus-sim's worker threads (the scenario library with
# --jobs 2) and the partitions free-running (100,000 packets echoed with
# the simulator out of the way). Only the three programs and those tests are
# built, with g++ -fsanitize=thread; any report fails the script. The
# README's test command runs it as its third step.
#   scripts/tsan.sh [BUILD_DIR]   (default build-tsan; VMBUS_TEST_JOBS=N, default: cores)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=${VMBUS_TEST_JOBS:-$(nproc)}
tsan=${1:-"$root/build-tsan"}
echo "== [tsan] building in $tsan"
# A unity build, like those of scripts/test.sh (about 40% less compile
# time). No debug info: a report names the functions of both stacks from the
# symbols; line tables would cost a fifth of this build (set
# VMBUS_TSAN_FLAGS="-O1 -g1" for them).
cmake -S "$root" -B "$tsan" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  "-DCMAKE_CXX_FLAGS_RELEASE=${VMBUS_TSAN_FLAGS:--O1}" \
  -DVMBUS_SANITIZE_THREAD=ON -DVMBUS_BUILD_BENCHMARKS=OFF -DCMAKE_UNITY_BUILD=ON >/dev/null
cmake --build "$tsan" -j "$(nproc)" --target vmbus-sim vmbus-host vmbus-guest kmcl_test kmcl_c_api_test \
  shm_stream_test
echo "== [tsan] running tests"
# halt_on_error: the first report ends the process with exit 66, which
# fails the test, the run or the simulation that hit it.
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 ${TSAN_OPTIONS:-}"
# Not KMCL's 100,000-packet stress test (two minutes under TSan): its
# shorter siblings run the same hand-offs between the model's contexts.
ctest --test-dir "$tsan" --output-on-failure -j "$jobs" -R '^(kmcl|shm)\.' \
  -E '^kmcl\.Stress\.HundredThousandPacketsAreRetiredExactlyOnceInFifoOrder$'
work=$(mktemp -d "${TMPDIR:-/tmp}/vmbus-tsan.XXXXXX")
trap 'rm -rf "$work"' EXIT
cat > "$work/guest.textproto" <<'CONFIG'
echo { child_relid: 1 packets: 100000 max_payload_bytes: 256 window: 64 }
CONFIG
echo "== [tsan] free-running: 100,000 packets echoed"
"$tsan/bin/vmbus-sim" simulate --mode free-running --guest-config "$work/guest.textproto" \
  --timeout-ms 120000
echo "== [tsan] the scenario library, seeds 1..2, two worker threads"
"$tsan/bin/vmbus-sim" run "$root/scenarios" --seeds 1..2 --jobs 2 --quiet --timeout-ms 120000
echo "== [tsan] no report"
