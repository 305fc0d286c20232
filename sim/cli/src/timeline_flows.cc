// The timeline's flows and ring counters (timeline.h says what they join).
#include <algorithm>
#include <deque>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "vmbus/wire/codec.h"
#include "vmbus/wire/synic.h"

#include "timeline_internal.h"

namespace vmbus::cli::detail {
namespace {

constexpr const char* kPacketFlow = "packet";
constexpr const char* kMessageFlow = "message";
constexpr const char* kRingDataFlow = "ring data";

proto::Partition other_partition(proto::Partition partition) {
  return partition == proto::PARTITION_HOST ? proto::PARTITION_GUEST : proto::PARTITION_HOST;
}

std::uint32_t signal_relid(const proto::SignalRecord& e) {
  return e.to() == proto::PARTITION_GUEST ? e.child_relid()
                                          : wire::relid_of_connection_id(e.connection_id());
}

struct Flow {
  const char* name = kPacketFlow;
  std::vector<std::size_t> slices;
};

// Where a packet is on its way: out to the receiver, then (when it is
// completed) back to its sender as a completion.
enum class PacketStage {
  kSent,                 // in the ring, not signalled yet
  kSignalled,            // signalled, the interrupt not delivered yet
  kInterrupted,          // the receiver was interrupted
  kDequeued,             // the receiver has it
  kCompleted,            // its completion is in the ring, not signalled yet
  kCompletionSignalled,  // ... signalled
  kCompletionInterrupted,
  kBack,  // the sender's completion routine ran
  kDone,  // the sender's completion record: nothing joins after it
};

struct Packet {
  std::size_t flow = 0;
  PacketStage stage = PacketStage::kSent;
  // The way back is only known to be one once the sender hears of the
  // completion: until then its signal and interrupt wait here.
  std::vector<std::size_t> way_back;
};

// The packet flows: see timeline.h.
class PacketFlows {
 public:
  explicit PacketFlows(std::vector<Flow>& flows) : flows_(flows) {}

  void on_kmcl(std::size_t slice, const proto::TraceRecord& record) {
    const proto::KmclRecord& e = record.kmcl();
    const proto::Partition side = record.partition();
    if (e.kind() == "send" && e.has_trans_id() && e.handle() != 0) {
      const std::size_t packet = start(slice);
      sent_[{side, e.child_relid(), e.trans_id()}] = packet;
      handles_[{side, e.child_relid(), e.handle()}] = packet;
      waiting_signal_[{e.child_relid(), side}].push_back(packet);
      return;
    }
    if (e.kind() == "dequeue" && e.handle() != 0) {
      on_dequeue(slice, record);
      return;
    }
    const auto it = handles_.find({side, e.child_relid(), e.handle()});
    if (e.handle() == 0 || it == handles_.end()) {
      return;
    }
    Packet& packet = packets_[it->second];
    if (packet.stage == PacketStage::kDone) {
      return;
    }
    join(packet, slice);
    if (e.kind() == "complete" && packet.stage == PacketStage::kDequeued) {
      packet.stage = PacketStage::kCompleted;
      waiting_signal_[{e.child_relid(), side}].push_back(it->second);
    } else if (e.kind() == "callback" && e.callback() == "EvtVmbPacketCompletionRoutine") {
      arrived_back(packet);
    }
  }

  void on_completion(std::size_t slice, const proto::TraceRecord& record) {
    const proto::CompletionEvent& e = record.completion();
    const auto it = sent_.find({record.partition(), e.child_relid(), e.trans_id()});
    if (it == sent_.end()) {
      return;
    }
    Packet& packet = packets_[it->second];
    join(packet, slice);
    if (packet.stage < PacketStage::kDequeued) {
      // A send without a completion request ends for its sender once it is
      // in the ring; the packet goes on to its receiver.
      return;
    }
    arrived_back(packet);
    packet.stage = PacketStage::kDone;
    sent_.erase(it);
  }

  void on_signal(std::size_t slice, const proto::SignalRecord& e) {
    const std::pair key{signal_relid(e), e.from()};
    switch (e.stage()) {
      case proto::SignalRecord::STAGE_SIGNALLED:
      case proto::SignalRecord::STAGE_COALESCED:
        advance(waiting_signal_[key], slice, PacketStage::kSent, PacketStage::kSignalled);
        advance(waiting_signal_[key], slice, PacketStage::kCompleted,
                PacketStage::kCompletionSignalled);
        move_all(waiting_signal_[key], waiting_interrupt_[key]);
        break;
      case proto::SignalRecord::STAGE_DELIVERED:
        advance(waiting_interrupt_[key], slice, PacketStage::kSignalled, PacketStage::kInterrupted);
        advance(waiting_interrupt_[key], slice, PacketStage::kCompletionSignalled,
                PacketStage::kCompletionInterrupted);
        waiting_interrupt_[key].clear();
        break;
      default:
        break;
    }
  }

 private:
  using Transaction = std::tuple<proto::Partition, std::uint32_t, std::uint64_t>;
  using Waiting = std::map<std::pair<std::uint32_t, proto::Partition>, std::vector<std::size_t>>;

  std::size_t start(std::size_t slice) {
    flows_.push_back(Flow{kPacketFlow, {slice}});
    packets_.push_back(Packet{flows_.size() - 1, PacketStage::kSent, {}});
    return packets_.size() - 1;
  }

  void join(const Packet& packet, std::size_t slice) {
    flows_[packet.flow].slices.push_back(slice);
  }

  void on_dequeue(std::size_t slice, const proto::TraceRecord& record) {
    const proto::KmclRecord& e = record.kmcl();
    const proto::Partition sender = other_partition(record.partition());
    std::optional<std::size_t> found;
    if (e.has_trans_id()) {
      const auto it = sent_.find({sender, e.child_relid(), e.trans_id()});
      if (it != sent_.end() && packets_[it->second].stage < PacketStage::kDequeued) {
        found = it->second;
      }
    }
    if (!found) {
      found = start(slice);  // a packet whose send the trace does not show
    } else {
      join(packets_[*found], slice);
    }
    packets_[*found].stage = PacketStage::kDequeued;
    handles_[{record.partition(), e.child_relid(), e.handle()}] = *found;
  }

  // The sender heard of the completion: the signal and interrupt that
  // carried it back belong to the packet after all. (A completion routine
  // before the receiver had the packet only says it is in the ring.)
  void arrived_back(Packet& packet) {
    if (packet.stage < PacketStage::kDequeued) {
      return;
    }
    for (const std::size_t slice : packet.way_back) {
      join(packet, slice);
    }
    packet.way_back.clear();
    packet.stage = PacketStage::kBack;
  }

  void advance(std::vector<std::size_t>& waiting, std::size_t slice, PacketStage from,
               PacketStage to) {
    for (const std::size_t index : waiting) {
      Packet& packet = packets_[index];
      if (packet.stage != from) {
        continue;
      }
      packet.stage = to;
      if (to == PacketStage::kCompletionSignalled || to == PacketStage::kCompletionInterrupted) {
        packet.way_back.push_back(slice);
      } else {
        join(packet, slice);
      }
    }
  }

  void move_all(std::vector<std::size_t>& from, std::vector<std::size_t>& to) {
    for (const std::size_t index : from) {
      const PacketStage stage = packets_[index].stage;
      if (stage == PacketStage::kSignalled || stage == PacketStage::kCompletionSignalled) {
        to.push_back(index);
      }
    }
    from.clear();
  }

  std::vector<Flow>& flows_;
  std::vector<Packet> packets_;
  std::map<Transaction, std::size_t> sent_;     // (sender, relid, trans_id) until it is done
  std::map<Transaction, std::size_t> handles_;  // (partition, relid, KMCL handle)
  Waiting waiting_signal_;                      // (relid, who signals next)
  Waiting waiting_interrupt_;
};

// The message flows: see timeline.h.
class MessageFlows {
 public:
  explicit MessageFlows(std::vector<Flow>& flows) : flows_(flows) {}

  void on_message(std::size_t slice, std::size_t record_index, const proto::TraceRecord& record) {
    const proto::MessageEvent& e = record.message();
    const Direction direction{e.from(), e.to()};
    if (record.partition() != proto::PARTITION_UNSPECIFIED) {
      // The receiver handled or ignored what is in its slot: the last
      // message delivered to it.
      const auto it = in_slot_.find(record.partition());
      if (it != in_slot_.end()) {
        flows_[it->second].slices.push_back(slice);
        in_slot_.erase(it);
      }
      return;
    }
    switch (e.stage()) {
      case proto::MessageEvent::STAGE_POSTED:
        flows_.push_back(Flow{kMessageFlow, {slice}});
        posted_[direction].push_back({e.payload(), flows_.size() - 1});
        flow_of_posted_[record_index] = flows_.size() - 1;
        last_posted_ = flows_.size() - 1;
        break;
      case proto::MessageEvent::STAGE_QUEUED:
        if (last_posted_) {
          flows_[*last_posted_].slices.push_back(slice);
        }
        break;
      case proto::MessageEvent::STAGE_DELIVERED:
        on_delivered(slice, direction, e);
        break;
      default:
        break;
    }
  }

  // A fault record that hit the message posted as `posted_record`.
  void on_fault(std::size_t slice, std::size_t posted_record) {
    const auto it = flow_of_posted_.find(posted_record);
    if (it != flow_of_posted_.end()) {
      flows_[it->second].slices.push_back(slice);
    }
  }

 private:
  using Direction = std::pair<proto::Partition, proto::Partition>;
  struct Posted {
    std::string payload;
    std::size_t flow = 0;
  };
  static constexpr std::size_t kDeliveredKept = 16;

  void on_delivered(std::size_t slice, const Direction& direction, const proto::MessageEvent& e) {
    std::deque<Posted>& waiting = posted_[direction];
    std::deque<Posted>& delivered = delivered_[direction];
    const auto same = [&](const Posted& p) { return p.payload == e.payload(); };
    std::optional<std::size_t> flow;
    if (const auto it = std::find_if(waiting.begin(), waiting.end(), same); it != waiting.end()) {
      flow = it->flow;
      delivered.push_back(*it);
      waiting.erase(it);
      if (delivered.size() > kDeliveredKept) {
        delivered.pop_front();
      }
    } else if (const auto again = std::find_if(delivered.rbegin(), delivered.rend(), same);
               again != delivered.rend()) {
      flow = again->flow;  // a duplicate
    }
    if (!flow) {
      flows_.push_back(Flow{kMessageFlow, {}});
      flow = flows_.size() - 1;
    }
    flows_[*flow].slices.push_back(slice);
    in_slot_[e.to()] = *flow;
  }

  std::vector<Flow>& flows_;
  std::map<Direction, std::deque<Posted>> posted_;
  std::map<Direction, std::deque<Posted>> delivered_;
  std::map<std::size_t, std::size_t> flow_of_posted_;  // posted record -> flow
  std::map<proto::Partition, std::size_t> in_slot_;
  std::optional<std::size_t> last_posted_;
};

// The ring data flows: see timeline.h.
class RingDataFlows {
 public:
  explicit RingDataFlows(std::vector<Flow>& flows) : flows_(flows) {}

  void on_channel_opening(std::uint32_t child_relid) {
    rings_.erase({child_relid, "host_to_guest"});
    rings_.erase({child_relid, "guest_to_host"});
  }

  void on_ring(std::size_t slice, const proto::RingEvent& e) {
    if (e.bytes() == 0) {
      return;
    }
    Ring& ring = rings_[{e.child_relid(), e.ring()}];
    if (e.op() == "publish_write") {
      ring.written_bytes += e.bytes();
      flows_.push_back(Flow{kRingDataFlow, {slice}});
      ring.unread.emplace_back(flows_.size() - 1, ring.written_bytes);
    } else if (e.op() == "publish_read") {
      ring.read_bytes += e.bytes();
      std::size_t consumed = 0;
      while (consumed < ring.unread.size() && ring.unread[consumed].second <= ring.read_bytes) {
        flows_[ring.unread[consumed].first].slices.push_back(slice);
        ++consumed;
      }
      ring.unread.erase(ring.unread.begin(),
                        ring.unread.begin() + static_cast<std::ptrdiff_t>(consumed));
      // Writes the trace never showed: count them as written so later
      // writes still meet their reads.
      ring.written_bytes = std::max(ring.written_bytes, ring.read_bytes);
    }
  }

 private:
  struct Ring {
    std::uint64_t written_bytes = 0;
    std::uint64_t read_bytes = 0;
    std::vector<std::pair<std::size_t, std::uint64_t>> unread;  // flow, written_bytes after it
  };

  std::vector<Flow>& flows_;
  std::map<std::pair<std::uint32_t, std::string>, Ring> rings_;
};

// The channel an OPENCHANNEL being posted opens: its rings start afresh.
std::optional<std::uint32_t> opened_relid(const proto::TraceRecord& record) {
  const proto::MessageEvent& e = record.message();
  if (record.partition() != proto::PARTITION_UNSPECIFIED ||
      e.stage() != proto::MessageEvent::STAGE_POSTED) {
    return std::nullopt;
  }
  const wire::ParseResult parsed =
      wire::parse_message(std::as_bytes(std::span(e.payload().data(), e.payload().size())));
  if (!parsed) {
    return std::nullopt;
  }
  const auto* open = std::get_if<wire::OpenChannel>(&parsed.value());
  return open != nullptr ? std::optional<std::uint32_t>(open->child_relid) : std::nullopt;
}

std::optional<std::uint64_t> bytes_used(const proto::RingEvent& e) {
  const std::uint64_t write = e.write_index();
  const std::uint64_t read = e.read_index();
  if (e.data_size() != 0) {
    if (write >= e.data_size() || read >= e.data_size()) {
      return std::nullopt;  // impossible indices: no sample rather than a wrong one
    }
    return (write + e.data_size() - read) % e.data_size();
  }
  if (write >= read) {
    return write - read;
  }
  return std::nullopt;
}

// Flows of at least two distinct slices, their slices in time order, ids
// dense from 1 in the order they start.
std::vector<TimelineFlow> finish(std::vector<Flow> flows) {
  std::vector<TimelineFlow> result;
  for (Flow& flow : flows) {
    std::sort(flow.slices.begin(), flow.slices.end());
    flow.slices.erase(std::unique(flow.slices.begin(), flow.slices.end()), flow.slices.end());
    if (flow.slices.size() >= 2) {
      result.push_back(TimelineFlow{0, flow.name, std::move(flow.slices)});
    }
  }
  std::stable_sort(result.begin(), result.end(), [](const TimelineFlow& a, const TimelineFlow& b) {
    return a.slices.front() < b.slices.front();
  });
  for (std::size_t i = 0; i < result.size(); ++i) {
    result[i].id = i + 1;
  }
  return result;
}

}  // namespace

std::vector<std::pair<std::size_t, std::size_t>> fault_targets(
    std::span<const proto::TraceRecord> records) {
  const auto is = [&](std::size_t i, auto stage_of) {
    return i < records.size() && stage_of(records[i]);
  };
  const auto posted = [](const proto::TraceRecord& r) {
    return r.has_message() && r.partition() == proto::PARTITION_UNSPECIFIED &&
           r.message().stage() == proto::MessageEvent::STAGE_POSTED;
  };
  const auto signalled = [](const proto::TraceRecord& r) {
    return r.has_signal() && (r.signal().stage() == proto::SignalRecord::STAGE_SIGNALLED ||
                              r.signal().stage() == proto::SignalRecord::STAGE_COALESCED);
  };
  std::vector<std::pair<std::size_t, std::size_t>> targets;
  for (std::size_t i = 1; i < records.size(); ++i) {
    if (!records[i].has_fault()) {
      continue;
    }
    const std::string& kind = records[i].fault().kind();
    if (kind == "interrupt_duplicated" || kind == "interrupt_on_old_vp") {
      if (is(i + 1, signalled)) {
        targets.emplace_back(i, i + 1);
      }
    } else if (kind == "interrupt_dropped" || kind == "interrupt_delayed") {
      if (is(i - 1, signalled)) {
        targets.emplace_back(i, i - 1);
      }
    } else if (kind.starts_with("message_") && kind != "message_released" && is(i - 1, posted)) {
      targets.emplace_back(i, i - 1);
    }
  }
  return targets;
}

std::vector<TimelineFlow> find_flows(const LaidOut& laid_out) {
  std::vector<Flow> flows;
  PacketFlows packets(flows);
  MessageFlows messages(flows);
  RingDataFlows ring_data(flows);
  std::map<std::size_t, std::size_t> fault_hits;
  for (const auto& [fault, hit] : fault_targets(laid_out.records)) {
    fault_hits[fault] = hit;
  }
  for (std::size_t slice = 0; slice < laid_out.order.size(); ++slice) {
    const std::size_t index = laid_out.order[slice];
    const proto::TraceRecord& record = laid_out.records[index];
    switch (record.event_case()) {
      case proto::TraceRecord::kKmcl:
        packets.on_kmcl(slice, record);
        break;
      case proto::TraceRecord::kCompletion:
        packets.on_completion(slice, record);
        break;
      case proto::TraceRecord::kSignal:
        packets.on_signal(slice, record.signal());
        break;
      case proto::TraceRecord::kMessage:
        messages.on_message(slice, index, record);
        if (const auto relid = opened_relid(record)) {
          ring_data.on_channel_opening(*relid);
        }
        break;
      case proto::TraceRecord::kFault:
        if (const auto it = fault_hits.find(index);
            it != fault_hits.end() && laid_out.records[it->second].has_message()) {
          messages.on_fault(slice, it->second);
        }
        break;
      case proto::TraceRecord::kRing:
        ring_data.on_ring(slice, record.ring());
        break;
      default:
        break;
    }
  }
  return finish(std::move(flows));
}

void add_ring_counters(const LaidOut& laid_out, Timeline& timeline) {
  std::map<std::pair<std::uint32_t, std::string>, std::size_t> index_of;
  for (const TimelineSlice& slice : timeline.slices) {
    const proto::TraceRecord& record = laid_out.records[slice.record];
    if (record.has_ring()) {
      index_of.emplace(std::pair{record.ring().child_relid(), record.ring().ring()}, 0);
    }
  }
  for (auto& [key, index] : index_of) {
    index = timeline.counters.size();
    timeline.counters.push_back(TimelineCounter{
        "ring " + std::to_string(key.first) + " " + key.second, key.first, key.second, 0});
  }
  for (std::size_t s = 0; s < timeline.slices.size(); ++s) {
    const proto::TraceRecord& record = laid_out.records[timeline.slices[s].record];
    if (!record.has_ring()) {
      continue;
    }
    const proto::RingEvent& e = record.ring();
    const std::size_t counter = index_of.at({e.child_relid(), e.ring()});
    TimelineCounter& c = timeline.counters[counter];
    c.data_size_bytes = std::max<std::uint64_t>(c.data_size_bytes, e.data_size());
    if (const auto used = bytes_used(e)) {
      timeline.samples.push_back(CounterSample{counter, s, timeline.slices[s].start_ns, *used});
    }
  }
}

}  // namespace vmbus::cli::detail
