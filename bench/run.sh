#!/usr/bin/env bash
# Builds and runs ring_bench (see docs/PERFORMANCE.md).
#
# Usage: bench/run.sh [BUILD_DIR] [ring_bench flags...]
#   BUILD_DIR defaults to build-bench at the top of the repository. It is
#   configured as a Release build with benchmarks on and tests off.
# Writes BUILD_DIR/ring_bench.json (Google Benchmark JSON, every repetition
# plus aggregates) and BUILD_DIR/ring_bench.txt (the console output and the
# ratio table, which is also printed).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-${repo}/build-bench}"
if [[ $# -gt 0 ]]; then
  shift
fi

cmake -S "${repo}" -B "${build}" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DVMBUS_BUILD_BENCHMARKS=ON -DVMBUS_BUILD_TESTS=OFF >/dev/null
cmake --build "${build}" --target ring_bench

# The figures are only as quiet as the machine: say how busy it was.
echo "load average before the run: $(cat /proc/loadavg)"
"${build}/bench/ring_bench" \
  --benchmark_out="${build}/ring_bench.json" --benchmark_out_format=json \
  --benchmark_color=false "$@" | tee "${build}/ring_bench.txt"
echo "JSON: ${build}/ring_bench.json"
