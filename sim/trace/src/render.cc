#include "vmbus/trace/render.h"

#include <cctype>
#include <cstdio>
#include <string_view>

#include "vmbus/base/build_info.h"

namespace vmbus::trace {

const char* partition_name(proto::Partition partition) {
  switch (partition) {
    case proto::PARTITION_HOST:
      return "host";
    case proto::PARTITION_GUEST:
      return "guest";
    default:
      return "sim";
  }
}

namespace {

// "STAGE_DELIVERED" -> "delivered", "KIND_CRASHED" -> "crashed".
std::string lower_enum_name(const std::string& enum_name, std::string_view prefix) {
  std::string name = enum_name.rfind(prefix, 0) == 0 ? enum_name.substr(prefix.size()) : enum_name;
  for (char& c : name) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return name;
}

}  // namespace

std::string message_stage_name(const proto::MessageEvent& e) {
  return lower_enum_name(proto::MessageEvent::Stage_Name(e.stage()), "STAGE_");
}

std::string signal_stage_name(const proto::SignalRecord& e) {
  return lower_enum_name(proto::SignalRecord::Stage_Name(e.stage()), "STAGE_");
}

std::string process_kind_name(const proto::ProcessEvent& e) {
  return lower_enum_name(proto::ProcessEvent::Kind_Name(e.kind()), "KIND_");
}

namespace {

std::string arrow(proto::Partition from, proto::Partition to) {
  return std::string(partition_name(from)) + "->" + partition_name(to);
}

// " (detail)", or nothing when there is no detail.
std::string in_parentheses(const std::string& detail) {
  return detail.empty() ? "" : " (" + detail + ")";
}

std::string text_of(const proto::SchedulerEvent& e) {
  const std::string chosen = e.chosen() < static_cast<std::uint32_t>(e.ready_size())
                                 ? e.ready(static_cast<int>(e.chosen()))
                                 : "?";
  return "step " + std::to_string(e.step_number()) + ": " + chosen + " (1 of " +
         std::to_string(e.ready_size()) + " ready)";
}

std::string text_of(const proto::MessageEvent& e) {
  std::string text = "message " + message_stage_name(e);
  if (e.from() != proto::PARTITION_UNSPECIFIED || e.to() != proto::PARTITION_UNSPECIFIED) {
    text += " " + arrow(e.from(), e.to());
  }
  text += " " + e.decoded();
  if (e.msg_pending()) {
    text += " [msg_pending]";
  }
  if (!e.reason().empty()) {
    text += " -- " + e.reason();
  }
  return text;
}

std::string text_of(const proto::SignalRecord& e) {
  std::string text = "signal " + signal_stage_name(e) + " " + arrow(e.from(), e.to());
  if (e.child_relid() != 0) {
    text += " relid " + std::to_string(e.child_relid());
  }
  if (e.connection_id() != 0) {
    text += " connection_id " + std::to_string(e.connection_id());
  }
  if (e.has_vp()) {
    text += " vp " + std::to_string(e.vp());
  }
  return text;
}

// " (was write_index=N)": the index a publish moved, before it moved.
std::string index_before_publish(const proto::RingEvent& e) {
  const bool write = e.op() == "publish_write";
  if (!write && e.op() != "publish_read") {
    return "";
  }
  std::uint64_t before = 0;
  if (e.has_index_before()) {
    before = e.index_before();
  } else if (e.data_size() != 0) {
    const std::uint64_t after = write ? e.write_index() : e.read_index();
    before = (after + e.data_size() - e.bytes() % e.data_size()) % e.data_size();
  } else {
    return "";
  }
  return std::string(" (was ") + (write ? "write_index=" : "read_index=") + std::to_string(before) +
         ")";
}

std::string text_of(const proto::RingEvent& e) {
  std::string text = "ring " + std::to_string(e.child_relid()) + " " + e.ring() + " " + e.op() +
                     " write_index=" + std::to_string(e.write_index()) +
                     " read_index=" + std::to_string(e.read_index());
  if (e.bytes() != 0) {
    text += " bytes=" + std::to_string(e.bytes()) + index_before_publish(e);
  }
  // The mask where the reader moves it, and both words whenever they are set.
  if (e.interrupt_mask() != 0 || e.op() == "begin_read" || e.op() == "end_read") {
    text += " interrupt_mask=" + std::to_string(e.interrupt_mask());
  }
  if (e.pending_send_sz() != 0 || e.op() == "pending_send_sz") {
    text += " pending_send_sz=" + std::to_string(e.pending_send_sz());
  }
  if (!e.reason().empty()) {
    text += " " + e.reason();
  }
  return text + in_parentheses(e.detail());
}

std::string text_of(const proto::ChannelEvent& e) {
  return "channel " + std::to_string(e.child_relid()) + " " + e.state() +
         in_parentheses(e.detail());
}

std::string text_of(const proto::ProcessEvent& e) {
  return std::string("process ") + partition_name(e.partition()) + " " + process_kind_name(e) +
         in_parentheses(e.detail());
}

std::string text_of(const proto::KmclRecord& e) {
  std::string text = "kmcl " + e.kind();
  if (!e.code().empty()) {
    text += " " + e.code();
  }
  if (!e.api().empty()) {
    text += " in " + e.api();
  }
  if (e.handle() != 0) {
    char handle[32];
    std::snprintf(handle, sizeof(handle), " handle %#llx",
                  static_cast<unsigned long long>(e.handle()));
    text += handle;
  }
  if (!e.detail().empty()) {
    text += ": " + e.detail();
  }
  return text;
}

std::string text_of(const proto::FaultEvent& e) {
  return "fault " + e.kind() + (e.detail().empty() ? "" : ": " + e.detail());
}

std::string text_of(const proto::ActionEvent& e) {
  std::string text = "scenario step " + std::to_string(e.step());
  if (!e.label().empty()) {
    text += " '" + e.label() + "'";
  }
  if (!e.describe().empty()) {
    text += ": " + e.describe();
  }
  if (!e.error().empty()) {
    text += " -- error: " + e.error();
  }
  return text;
}

std::string text_of(const proto::CompletionEvent& e) {
  return "completion relid " + std::to_string(e.child_relid()) + " trans_id " +
         std::to_string(e.trans_id()) + (e.status().empty() ? "" : " " + e.status()) + " " +
         std::to_string(e.bytes()) + " bytes";
}

}  // namespace

std::string written_by(const proto::TraceHeader& header) {
  if (header.build_version().empty() && header.build_commit().empty()) {
    return "an unknown build";
  }
  return "vmbus-sim " + base::build_identity(header.build_version(), header.build_commit());
}

std::string event_text(const proto::TraceRecord& record) {
  switch (record.event_case()) {
    case proto::TraceRecord::kScheduler:
      return text_of(record.scheduler());
    case proto::TraceRecord::kMessage:
      return text_of(record.message());
    case proto::TraceRecord::kSignal:
      return text_of(record.signal());
    case proto::TraceRecord::kRing:
      return text_of(record.ring());
    case proto::TraceRecord::kChannel:
      return text_of(record.channel());
    case proto::TraceRecord::kNote:
      return record.note().text();
    case proto::TraceRecord::kProcess:
      return text_of(record.process());
    case proto::TraceRecord::kKmcl:
      return text_of(record.kmcl());
    case proto::TraceRecord::kFault:
      return text_of(record.fault());
    case proto::TraceRecord::kAction:
      return text_of(record.action());
    case proto::TraceRecord::kCompletion:
      return text_of(record.completion());
    case proto::TraceRecord::kFinalState:
      return "final " + record.final_state().text();
    default:
      return "(empty record)";
  }
}

namespace {

std::string irql_of(const proto::TraceRecord& record) {
  if (record.has_kmcl()) {
    return record.kmcl().irql() == 0 ? "PASSIVE" : "DISPATCH";
  }
  const std::string& context = record.context();
  if (context.rfind("dpc/", 0) == 0 || context.rfind("isr", 0) == 0) {
    return "DISPATCH";
  }
  return "";
}

}  // namespace

std::string format_record(const proto::TraceRecord& record) {
  char prefix[64];
  std::snprintf(prefix, sizeof(prefix), "%7llu %12.3f ",
                static_cast<unsigned long long>(record.sequence()),
                static_cast<double>(record.time_ns()) / 1000.0);
  std::string line = prefix;
  std::string partition = partition_name(record.partition());
  partition.resize(6, ' ');
  std::string context = record.context();
  if (context.size() < 18) {
    context.resize(18, ' ');
  }
  std::string irql = irql_of(record);
  irql.resize(9, ' ');
  return line + partition + context + " " + irql + event_text(record);
}

}  // namespace vmbus::trace
