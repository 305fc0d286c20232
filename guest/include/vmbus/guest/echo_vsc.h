// The guest's built-in VSC: an echo workload through the ring library.
//
// EchoVsc runs on every open channel that has no KMCL driver: a receiver of
// the host->guest ring ("dpc/<relid>", one receive phase per step) and a
// sender on the guest->host ring ("vsc/<relid>", one send phase per step).
// On the echo channel (EchoWorkload.child_relid) it keeps `window` packets
// in flight, each carrying a sequence number and a checksum of random
// bytes, and checks that every packet coming back is the next one sent,
// intact (as a VM_PKT_COMP when completions are requested).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "vmbus/base/prng.h"
#include "vmbus/partition/guest_memory.h"
#include "vmbus/partition/partition.h"
#include "vmbus/partition/ring_endpoint.h"
#include "vmbus/proto/config.pb.h"

namespace vmbus::guest {

// The kinds of the echo VSC's contexts: "dpc/<relid>" and "vsc/<relid>".
inline constexpr std::string_view kDpcContextKind = "dpc";
inline constexpr std::string_view kVscContextKind = "vsc";

class EchoVsc {
 public:
  // The workload's choices (packet sizes and contents) come from `seed`.
  EchoVsc(const proto::EchoWorkload& config, std::uint64_t seed);

  // The channel is open on the wire: run on its rings, signalling the host
  // on `connection_id`. / It closes or is rescinded: stop using them.
  void start(std::uint32_t child_relid, std::uint32_t connection_id,
             partition::ChannelRings& rings);
  void stop(std::uint32_t child_relid);
  bool running(std::uint32_t child_relid) const;

  void add_ready(std::vector<std::string>& ready) const;
  // SINT2 fired for the channel: drain the ring, retry a blocked send.
  void on_interrupt(std::uint32_t child_relid);
  // One receive phase / one send phase. Each returns "" or why the
  // workload failed (a corrupt ring, a wrong echo).
  std::string receive_step(std::uint32_t child_relid, const partition::Work& work);
  std::string send_step(std::uint32_t child_relid, const partition::Work& work);

  // Keeps `window` packets in flight on the echo channel, if it runs.
  void refill();
  // Every packet the workload asked for came back.
  bool complete() const;

  std::uint32_t echo_relid() const { return config_.child_relid(); }
  std::uint64_t packets_wanted() const { return config_.packets(); }
  std::uint64_t packets_received() const { return received_; }
  std::uint64_t bytes_received() const { return bytes_; }
  // The channel's sender and receiver while it runs, else nullptr.
  const partition::RingSender* sender(std::uint32_t child_relid) const;
  const partition::RingReceiver* receiver(std::uint32_t child_relid) const;

 private:
  struct Lane {
    std::uint32_t connection_id = 0;
    std::unique_ptr<partition::RingSender> sender;
    std::unique_ptr<partition::RingReceiver> receiver;
  };

  void check_echo(const ring::PacketView& packet);
  Lane& lane(std::uint32_t child_relid);

  proto::EchoWorkload config_;
  base::Prng rng_;
  std::map<std::uint32_t, Lane> lanes_;  // running channels, by child_relid
  std::uint64_t sent_ = 0;
  std::uint64_t received_ = 0;
  std::uint64_t bytes_ = 0;
  std::deque<std::vector<std::byte>> expected_;  // in flight, in order
  bool failed_ = false;
  std::string failure_;
};

}  // namespace vmbus::guest
