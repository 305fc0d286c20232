// Compares two traces of what should be the same run: a recorded trace and
// its replay (`vmbus-sim replay`). Records are compared as bytes (a record
// serializes deterministically), the headers field by field so that a
// different build is told apart from a different run.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "vmbus/trace/reader.h"

namespace vmbus::trace {

struct TraceComparison {
  // Every record byte-identical and the headers the same but for the build.
  bool identical = false;
  // The headers name different builds ("0.1.0 (commit a)" vs ...): the
  // records may still agree; a seed reproduces a run only with one build.
  bool other_build = false;
  // The first header field other than the build that differs ("seed",
  // "scenario_text", ...), or "".
  std::string header_field;
  // The first record that differs (or that one trace has and the other
  // not), by its number, and how each trace renders it ("(none: the trace
  // ends)" where one has no such record). When both render alike, the
  // whole record in text format.
  std::optional<std::uint64_t> record;
  std::string recorded;
  std::string replayed;
  std::uint64_t records_recorded = 0;
  std::uint64_t records_replayed = 0;
};

TraceComparison compare_traces(const TraceFile& recorded, const TraceFile& replayed);

}  // namespace vmbus::trace
