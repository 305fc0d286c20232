#include "vmbus/trace/compare.h"

#include <algorithm>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include "vmbus/trace/render.h"

namespace vmbus::trace {
namespace {

constexpr char kNoRecord[] = "(none: the trace ends)";

// The first field of the header, other than the build, whose value differs.
std::string first_header_difference(const proto::TraceHeader& a, const proto::TraceHeader& b) {
  proto::TraceHeader left = a;
  proto::TraceHeader right = b;
  for (proto::TraceHeader* header : {&left, &right}) {
    header->clear_build_version();
    header->clear_build_commit();
  }
  const google::protobuf::Descriptor* descriptor = proto::TraceHeader::descriptor();
  const google::protobuf::Reflection* reflection = proto::TraceHeader::GetReflection();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* field = descriptor->field(i);
    proto::TraceHeader only_left;
    proto::TraceHeader only_right;
    reflection->SwapFields(&left, &only_left, {field});
    reflection->SwapFields(&right, &only_right, {field});
    if (only_left.SerializeAsString() != only_right.SerializeAsString()) {
      return field->name();
    }
  }
  return "";
}

std::string rendering(const proto::TraceRecord& record, bool whole) {
  return whole ? record.ShortDebugString() : format_record(record);
}

}  // namespace

TraceComparison compare_traces(const TraceFile& recorded, const TraceFile& replayed) {
  TraceComparison result;
  result.records_recorded = recorded.records.size();
  result.records_replayed = replayed.records.size();
  result.other_build = recorded.header.build_version() != replayed.header.build_version() ||
                       recorded.header.build_commit() != replayed.header.build_commit();
  result.header_field = first_header_difference(recorded.header, replayed.header);
  const std::size_t common = std::min(recorded.records.size(), replayed.records.size());
  for (std::size_t i = 0; i < common; ++i) {
    const proto::TraceRecord& a = recorded.records[i];
    const proto::TraceRecord& b = replayed.records[i];
    if (a.SerializeAsString() != b.SerializeAsString()) {
      const bool whole = format_record(a) == format_record(b);
      result.record = i;
      result.recorded = rendering(a, whole);
      result.replayed = rendering(b, whole);
      return result;
    }
  }
  if (recorded.records.size() != replayed.records.size()) {
    result.record = common;
    result.recorded = common < recorded.records.size() ? format_record(recorded.records[common])
                                                       : std::string(kNoRecord);
    result.replayed = common < replayed.records.size() ? format_record(replayed.records[common])
                                                       : std::string(kNoRecord);
    return result;
  }
  result.identical = result.header_field.empty();
  return result;
}

}  // namespace vmbus::trace
