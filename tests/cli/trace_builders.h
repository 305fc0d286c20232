// Trace records as a run writes them, built field by field, for the tests of
// the timeline and the viewer exports (trace export).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "vmbus/proto/trace.pb.h"
#include "vmbus/trace/writer.h"
#include "vmbus/wire/codec.h"
#include "vmbus/wire/synic.h"

namespace vmbus::cli::testing {

inline constexpr auto kHost = proto::PARTITION_HOST;
inline constexpr auto kGuest = proto::PARTITION_GUEST;

inline proto::TraceHeader sample_header() {
  proto::TraceHeader header;
  header.set_format_version(trace::kTraceFormatVersion);
  header.set_seed(7);
  header.set_scenario("export \"sample\"");
  header.set_mode(proto::SCHEDULING_MODE_DETERMINISTIC);
  return header;
}

// Records as the writer leaves them: sequence numbers dense from 0.
inline std::vector<proto::TraceRecord> numbered(std::vector<proto::TraceRecord> records) {
  for (std::size_t i = 0; i < records.size(); ++i) {
    records[i].set_sequence(i);
  }
  return records;
}

inline void write_trace(const std::filesystem::path& path, std::vector<proto::TraceRecord> records,
                        const proto::TraceHeader& header = sample_header()) {
  trace::TraceWriter writer;
  writer.open(path, header);
  for (proto::TraceRecord& record : records) {
    writer.write(record);
  }
  writer.close();
}

inline proto::TraceRecord record_at(std::uint64_t time_ns, proto::Partition partition,
                                    const std::string& context) {
  proto::TraceRecord record;
  record.set_time_ns(time_ns);
  record.set_partition(partition);
  record.set_context(context);
  return record;
}

inline proto::TraceRecord step(std::uint64_t time_ns, std::uint64_t number,
                               const std::string& chosen) {
  proto::TraceRecord record = record_at(time_ns, proto::PARTITION_UNSPECIFIED, "");
  record.mutable_scheduler()->set_step_number(number);
  record.mutable_scheduler()->add_ready(chosen);
  record.mutable_scheduler()->set_chosen(0);
  return record;
}

inline proto::TraceRecord note(std::uint64_t time_ns, proto::Partition partition,
                               const std::string& context, const std::string& text) {
  proto::TraceRecord record = record_at(time_ns, partition, context);
  record.mutable_note()->set_text(text);
  return record;
}

// A SynIC message record of the hypervisor (posted, queued, delivered) with
// `payload`, or, with a partition, the receiver's handled/ignored record.
inline proto::TraceRecord message(std::uint64_t time_ns, proto::MessageEvent::Stage stage,
                                  proto::Partition from, proto::Partition to,
                                  const std::string& payload,
                                  proto::Partition partition = proto::PARTITION_UNSPECIFIED,
                                  const std::string& context = "") {
  proto::TraceRecord record = record_at(time_ns, partition, context);
  proto::MessageEvent* e = record.mutable_message();
  e->set_stage(stage);
  e->set_from(from);
  e->set_to(to);
  e->set_msgtype(payload.size() >= 1 ? static_cast<unsigned char>(payload[0]) : 0);
  e->set_decoded("decoded " + std::to_string(payload.size()) + " bytes");
  if (partition == proto::PARTITION_UNSPECIFIED) {
    e->set_payload(payload);
  }
  return record;
}

// The payload of a real message, as the hypervisor traces it.
inline std::string payload_of(const wire::Message& message) {
  const std::vector<std::byte> bytes = wire::encode_message(message);
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

inline proto::TraceRecord signal(std::uint64_t time_ns, proto::SignalRecord::Stage stage,
                                 proto::Partition from, std::uint32_t relid) {
  proto::TraceRecord record = record_at(time_ns, proto::PARTITION_UNSPECIFIED, "");
  proto::SignalRecord* e = record.mutable_signal();
  e->set_stage(stage);
  e->set_from(from);
  const bool to_guest = from == proto::PARTITION_HOST;
  e->set_to(to_guest ? proto::PARTITION_GUEST : proto::PARTITION_HOST);
  // The guest is signalled for a relid, the host for a connection id.
  if (to_guest) {
    e->set_child_relid(relid);
  } else {
    e->set_connection_id(wire::connection_id_of(relid));
  }
  return record;
}

inline proto::TraceRecord ring(std::uint64_t time_ns, proto::Partition partition,
                               const std::string& context, std::uint32_t relid,
                               const std::string& which_ring, const std::string& op,
                               std::uint32_t write_index, std::uint32_t read_index,
                               std::uint32_t bytes, std::uint32_t data_size = 0) {
  proto::TraceRecord record = record_at(time_ns, partition, context);
  auto* e = record.mutable_ring();
  e->set_child_relid(relid);
  e->set_ring(which_ring);
  e->set_op(op);
  e->set_write_index(write_index);
  e->set_read_index(read_index);
  e->set_bytes(bytes);
  e->set_data_size(data_size);
  return record;
}

// What a KMCL record says about its packet, beyond its kind.
struct KmclFacts {
  std::optional<std::uint64_t> trans_id{};
  std::optional<std::uint64_t> packet{};
  std::uint32_t delivery = 0;
  std::string callback{};
};

inline proto::TraceRecord kmcl(std::uint64_t time_ns, proto::Partition partition,
                               const std::string& context, const std::string& kind,
                               std::uint64_t handle, KmclFacts facts = {},
                               const std::string& detail = "") {
  proto::TraceRecord record = record_at(time_ns, partition, context);
  auto* e = record.mutable_kmcl();
  e->set_kind(kind);
  e->set_child_relid(1);
  e->set_channel(0);
  e->set_handle(handle);
  e->set_irql(context.find("passive") == std::string::npos ? 2 : 0);
  e->set_detail(detail);
  if (facts.trans_id) {
    e->set_trans_id(*facts.trans_id);
  }
  if (facts.packet) {
    e->set_packet(*facts.packet);
  }
  e->set_delivery(facts.delivery);
  e->set_callback(facts.callback);
  return record;
}

inline proto::TraceRecord completion(std::uint64_t time_ns, proto::Partition partition,
                                     const std::string& context, std::uint32_t relid,
                                     std::uint64_t trans_id,
                                     const std::string& status = "STATUS_SUCCESS") {
  proto::TraceRecord record = record_at(time_ns, partition, context);
  auto* e = record.mutable_completion();
  e->set_child_relid(relid);
  e->set_trans_id(trans_id);
  e->set_status(status);
  e->set_bytes(0);
  return record;
}

inline proto::TraceRecord fault(std::uint64_t time_ns, const std::string& kind,
                                const std::string& detail) {
  proto::TraceRecord record = record_at(time_ns, proto::PARTITION_UNSPECIFIED, "");
  record.mutable_fault()->set_kind(kind);
  record.mutable_fault()->set_detail(detail);
  return record;
}

inline proto::TraceRecord action(std::uint64_t time_ns, std::uint32_t step_number,
                                 const std::string& label, const std::string& describe) {
  proto::TraceRecord record = record_at(time_ns, proto::PARTITION_UNSPECIFIED, "");
  record.mutable_action()->set_step(step_number);
  record.mutable_action()->set_label(label);
  record.mutable_action()->set_describe(describe);
  return record;
}

}  // namespace vmbus::cli::testing
