#include "vmbus/guest/echo_vsc.h"

#include <algorithm>
#include <cstring>

#include "vmbus/base/check.h"
#include "vmbus/partition/context_name.h"
#include "vmbus/partition/partition_support.h"
#include "vmbus/ring/layout.h"

namespace vmbus::guest {
namespace {

constexpr std::uint32_t kDefaultEchoWindow = 16;
constexpr std::uint32_t kBatchPackets = 16;
constexpr std::size_t kEchoHeaderBytes = 16;  // sequence number + checksum

std::uint64_t fnv1a(std::span<const std::byte> bytes) {
  std::uint64_t hash = 0xCBF29CE484222325ull;
  for (std::byte b : bytes) {
    hash = (hash ^ static_cast<std::uint8_t>(b)) * 0x100000001B3ull;
  }
  return hash;
}

}  // namespace

EchoVsc::EchoVsc(const proto::EchoWorkload& config, std::uint64_t seed)
    : config_(config), rng_(seed) {}

void EchoVsc::start(std::uint32_t child_relid, std::uint32_t connection_id,
                    partition::ChannelRings& rings) {
  VMBUS_CHECK(!running(child_relid), "the echo VSC started twice on one channel");
  const std::uint32_t inbound_data =
      static_cast<std::uint32_t>(rings.inbound->region().size()) - ring::kHvPageSizeBytes;
  Lane& lane = lanes_[child_relid];
  lane.connection_id = connection_id;
  lane.sender = std::make_unique<partition::RingSender>(*rings.outbound, kBatchPackets);
  lane.receiver =
      std::make_unique<partition::RingReceiver>(*rings.inbound, inbound_data, kBatchPackets);
}

void EchoVsc::stop(std::uint32_t child_relid) {
  lanes_.erase(child_relid);
}

bool EchoVsc::running(std::uint32_t child_relid) const {
  return lanes_.count(child_relid) != 0;
}

EchoVsc::Lane& EchoVsc::lane(std::uint32_t child_relid) {
  const auto it = lanes_.find(child_relid);
  VMBUS_CHECK(it != lanes_.end(), "the echo VSC stepped on channel " + std::to_string(child_relid) +
                                      ", which is not open");
  return it->second;
}

const partition::RingSender* EchoVsc::sender(std::uint32_t child_relid) const {
  const auto it = lanes_.find(child_relid);
  return it == lanes_.end() ? nullptr : it->second.sender.get();
}

const partition::RingReceiver* EchoVsc::receiver(std::uint32_t child_relid) const {
  const auto it = lanes_.find(child_relid);
  return it == lanes_.end() ? nullptr : it->second.receiver.get();
}

void EchoVsc::add_ready(std::vector<std::string>& ready) const {
  for (const auto& [relid, lane] : lanes_) {
    if (lane.receiver->ready()) {
      ready.push_back(partition::channel_context(kDpcContextKind, relid));
    }
    if (lane.sender->ready()) {
      ready.push_back(partition::channel_context(kVscContextKind, relid));
    }
  }
}

void EchoVsc::on_interrupt(std::uint32_t child_relid) {
  Lane& found = lane(child_relid);
  found.receiver->schedule();
  found.sender->on_space_signal();
}

std::string EchoVsc::receive_step(std::uint32_t child_relid, const partition::Work& work) {
  Lane& found = lane(child_relid);
  const partition::ReceiveStep done =
      found.receiver->step([&](const ring::PacketView& packet) { check_echo(packet); });
  if (done.corrupt) {
    const char* reason = ring::corrupt_reason_name(done.corrupt->reason);
    work.hv.trace(partition::trace_ring(work.context, child_relid, "host_to_guest", "corrupt",
                                        found.receiver->reader().view(), 0, 0, reason));
    return std::string("the host->guest ring is corrupt: ") + reason;
  }
  if (done.phase == "publish" && done.bytes_published > 0) {
    work.hv.trace(partition::trace_ring(work.context, child_relid, "host_to_guest", "publish_read",
                                        found.receiver->reader().view(), done.bytes_published, 0,
                                        ""));
  }
  if (done.signal_peer) {
    work.hv.signal_event(found.connection_id, 0);
  }
  return failed_ ? failure_ : "";
}

std::string EchoVsc::send_step(std::uint32_t child_relid, const partition::Work& work) {
  Lane& found = lane(child_relid);
  const partition::SendStep done = found.sender->step();
  if (done.corrupt) {
    return std::string("the guest->host ring is corrupt: ") +
           ring::corrupt_reason_name(*done.corrupt);
  }
  if (done.too_large) {
    return "a packet is larger than the guest->host ring";
  }
  if (done.phase == "publish" && done.bytes_published > 0) {
    work.hv.trace(partition::trace_ring(work.context, child_relid, "guest_to_host", "publish_write",
                                        found.sender->writer().view(), done.bytes_published, 0,
                                        ""));
  } else if (done.phase == "block") {
    work.hv.trace(partition::trace_ring(work.context, child_relid, "guest_to_host",
                                        "pending_send_sz", found.sender->writer().view(), 0, 0,
                                        "ring full"));
  }
  if (done.signal_peer) {
    work.hv.signal_event(found.connection_id, 0);
  }
  return "";
}

void EchoVsc::refill() {
  const auto it = lanes_.find(config_.child_relid());
  if (config_.child_relid() == 0 || it == lanes_.end()) {
    return;
  }
  const std::uint32_t window = config_.window() == 0 ? kDefaultEchoWindow : config_.window();
  const std::uint32_t max_payload = std::max<std::uint32_t>(config_.max_payload_bytes(), 16);
  while (expected_.size() < window && sent_ < config_.packets()) {
    // Sizes are multiples of 8, so the echo (padded to 8) matches exactly.
    const std::uint64_t units = (max_payload - kEchoHeaderBytes) / 8 + 1;
    const std::size_t size = kEchoHeaderBytes + 8 * (rng_.below(units));
    std::vector<std::byte> payload(size);
    for (std::size_t i = kEchoHeaderBytes; i < size; i += 8) {
      const std::uint64_t word = rng_.next();
      std::memcpy(payload.data() + i, &word, 8);
    }
    const std::uint64_t sequence = sent_;
    const std::uint64_t checksum = fnv1a(std::span(payload).subspan(kEchoHeaderBytes));
    std::memcpy(payload.data(), &sequence, 8);
    std::memcpy(payload.data() + 8, &checksum, 8);
    partition::QueuedPacket packet;
    packet.trans_id = sequence + 1;
    if (config_.request_completions()) {
      packet.flags = ring::kPacketFlagCompletionRequested;
    }
    packet.payload = payload;
    it->second.sender->enqueue(std::move(packet));
    expected_.push_back(std::move(payload));
    ++sent_;
  }
}

bool EchoVsc::complete() const {
  return config_.packets() == 0 || received_ == config_.packets();
}

void EchoVsc::check_echo(const ring::PacketView& packet) {
  if (failed_) {
    return;
  }
  const auto fail = [&](const std::string& why) {
    failed_ = true;
    failure_ = "echo " + std::to_string(received_) + ": " + why;
  };
  if (expected_.empty()) {
    fail("a packet arrived with nothing in flight");
    return;
  }
  const std::vector<std::byte>& expected = expected_.front();
  const auto wanted_type = static_cast<std::uint16_t>(
      config_.request_completions() ? ring::PacketType::kComp : ring::PacketType::kDataInband);
  const auto payload = packet.payload();
  std::uint64_t sequence = 0;
  std::uint64_t checksum = 0;
  if (payload.size() >= kEchoHeaderBytes) {
    std::memcpy(&sequence, payload.data(), 8);
    std::memcpy(&checksum, payload.data() + 8, 8);
  }
  if (packet.descriptor.type != wanted_type) {
    fail("packet type " + std::to_string(packet.descriptor.type));
  } else if (packet.descriptor.trans_id != received_ + 1) {
    fail("trans_id " + std::to_string(packet.descriptor.trans_id));
  } else if (payload.size() != expected.size()) {
    fail("payload of " + std::to_string(payload.size()) + " bytes, sent " +
         std::to_string(expected.size()));
  } else if (sequence != received_) {
    fail("sequence number " + std::to_string(sequence));
  } else if (checksum != fnv1a(payload.subspan(kEchoHeaderBytes)) ||
             !std::equal(payload.begin(), payload.end(), expected.begin())) {
    fail("checksum mismatch");
  } else {
    bytes_ += payload.size();
    ++received_;
    expected_.pop_front();
  }
}

}  // namespace vmbus::guest
