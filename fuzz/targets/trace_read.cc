// The trace reader behind `vmbus-sim trace show` and `trace export`: any
// bytes as a trace file, and when they read, every record rendered as
// `trace show` prints it, filtered by channel, and the timeline built from
// the records and exported in every viewer format (Chrome JSON, Perfetto,
// HTML).
//
// Invariants beyond "no crash, no sanitizer report": a trace that reads has
// a header (so `show` can name its run), and a file that does not read is
// refused with an error that names it.
#include <optional>
#include <sstream>
#include <string>

#include <google/protobuf/stubs/logging.h>

#include "vmbus/cli/chrome_export.h"
#include "vmbus/cli/html_export.h"
#include "vmbus/cli/perfetto_export.h"
#include "vmbus/cli/timeline.h"
#include "vmbus/trace/match.h"
#include "vmbus/trace/reader.h"
#include "vmbus/trace/render.h"

#include "fuzz_input.h"

// Protobuf logs every string field with invalid UTF-8 it refuses; the
// refusal is what the target checks, the log line is noise.
extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace vmbus;
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  const trace::TraceReadResult read = trace::read_trace(in, "fuzz.trace");
  if (!read.ok) {
    if (read.error.rfind("fuzz.trace: ", 0) != 0) {
      fuzz::invariant_failed("a refused trace with an error that does not name it: " + read.error);
    }
    return 0;
  }
  std::ostringstream out;
  out << trace::written_by(read.trace.header) << "\n";
  for (const proto::TraceRecord& record : read.trace.records) {
    if (trace::concerns_channel(record, 1)) {
      out << trace::format_record(record) << "\n";
    }
  }
  const cli::Timeline timeline = cli::build_timeline(read.trace.records);
  cli::write_chrome_trace(read.trace.header, read.trace.records, timeline, out);
  std::string bytes;
  cli::write_perfetto_trace(read.trace.header, timeline, bytes);
  cli::write_html_timeline(read.trace.header, read.trace.records, timeline, "fuzz.trace",
                           std::nullopt, bytes);
  return 0;
}
