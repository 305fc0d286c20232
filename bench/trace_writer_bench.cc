// trace_writer_bench: the trace writer's throughput on the records of a real
// run.
//
//   trace_writer_bench TRACE [RECORDS] [REPETITIONS]
//
// Reads TRACE (any trace vmbus-sim wrote, e.g. `vmbus-sim simulate --trace
// echo.trace`), then writes its records again and again through
// trace::TraceWriter -- sequence stamping, serialisation, framing and the
// buffered file -- until RECORDS (default 1,000,000) are written, to a file
// in $TMPDIR that is removed afterwards. Prints, as the median of
// REPETITIONS (default 5), records/s and MB/s in wall time (the close()
// with its flush included) and the thread CPU time per record. Nothing is
// asserted (docs/PERFORMANCE.md).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <string>
#include <unistd.h>
#include <vector>

#include "vmbus/trace/reader.h"
#include "vmbus/trace/writer.h"

#include "bench_util.h"

namespace {

using namespace vmbus;

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 4) {
    std::fprintf(stderr, "usage: trace_writer_bench TRACE [RECORDS] [REPETITIONS]\n");
    return 2;
  }
  const trace::TraceReadResult input = trace::read_trace(argv[1]);
  if (!input.ok || input.trace.records.empty()) {
    std::fprintf(stderr, "trace_writer_bench: %s\n",
                 input.ok ? "the trace has no records" : input.error.c_str());
    return 2;
  }
  const std::uint64_t records =
      bench::positive_argument("trace_writer_bench", argc > 2 ? argv[2] : nullptr, 1'000'000);
  const std::uint64_t repetitions =
      bench::positive_argument("trace_writer_bench", argc > 3 ? argv[3] : nullptr, 5);
  const char* tmp = std::getenv("TMPDIR");
  const std::filesystem::path out = std::filesystem::path(tmp != nullptr ? tmp : "/tmp") /
                                    ("trace_writer_bench." + std::to_string(::getpid()));
  std::vector<double> records_per_second;
  std::vector<double> megabytes_per_second;
  std::vector<double> cpu_ns_per_record;
  for (std::uint64_t r = 0; r < repetitions; ++r) {
    std::vector<proto::TraceRecord> pool = input.trace.records;
    const auto start = std::chrono::steady_clock::now();
    const double cpu_start = bench::thread_seconds();
    trace::TraceWriter writer;
    writer.open(out, input.trace.header);
    for (std::uint64_t i = 0; i < records; ++i) {
      writer.write(pool[i % pool.size()]);
    }
    writer.close();
    const double cpu = bench::thread_seconds() - cpu_start;
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double bytes = static_cast<double>(std::filesystem::file_size(out));
    std::filesystem::remove(out);
    records_per_second.push_back(static_cast<double>(records) / wall);
    megabytes_per_second.push_back(bytes / wall / 1e6);
    cpu_ns_per_record.push_back(cpu * 1e9 / static_cast<double>(records));
  }
  std::printf("trace writer, %llu records from %s (%zu distinct), median of %llu:\n",
              static_cast<unsigned long long>(records), argv[1], input.trace.records.size(),
              static_cast<unsigned long long>(repetitions));
  std::printf("  %.0f records/s, %.1f MB/s (wall, close included), %.0f ns CPU per record\n",
              bench::median(records_per_second), bench::median(megabytes_per_second),
              bench::median(cpu_ns_per_record));
  return 0;
}
