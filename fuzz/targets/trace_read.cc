// The trace reader behind `vmbus-sim trace show` and `trace export`: any
// bytes as a trace file, and when they read, every record rendered as
// `trace show` prints it, filtered by channel, and exported as a Chrome
// trace.
//
// Invariants beyond "no crash, no sanitizer report": a trace that reads has
// a header (so `show` can name its run), and a file that does not read is
// refused with an error that names it.
#include <sstream>
#include <string>

#include <google/protobuf/stubs/logging.h>

#include "vmbus/cli/chrome_export.h"
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
  cli::write_chrome_trace(read.trace.header, read.trace.records, out);
  return 0;
}
