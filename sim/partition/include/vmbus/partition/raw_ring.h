// A malicious partition's raw ring writes, for either end of a channel: the
// scenario actions ring_write, raw_packet, tamper and set_index. The host
// plays a hostile root partition with them, the guest a hostile guest (the
// actions' `side`). Both partitions call the same code through a RawRingPort
// that says which ring the partition sends on, how to interrupt the peer and
// how to tell its own KMCL device that an index moved under it.
//
// Raw writes bypass KMCL's ring writer, but every offset and length from the
// scenario is checked against the ring's data area before a byte is written:
// a bad one is an error string for the scenario, never a write outside the
// ring. Values the peer will read (descriptors, indices) are not checked:
// writing them is the point.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "vmbus/kmcl/device.h"
#include "vmbus/proto/config.pb.h"
#include "vmbus/ring/ring.h"

namespace vmbus::partition {

// What a raw ring action needs from the partition that carries it out, for
// one open channel.
class RawRingPort {
 public:
  virtual ~RawRingPort() = default;

  // The ring `id` of the channel (mapped: the channel is open).
  virtual ring::RingMemory& ring(proto::RingId id) = 0;
  // The ring this partition writes packets into: HOST_TO_GUEST_RING for the
  // host, GUEST_TO_HOST_RING for the guest.
  virtual proto::RingId sending_ring() const = 0;
  // The sending ring's write_index moved under the partition's KMCL device:
  // it continues from there, valid or not.
  virtual void resync_sender() = 0;
  // Interrupt the reader of the sending ring (the peer).
  virtual void signal_peer() = 0;
  // "Interrupt the reader" of the other ring: the partition reads it itself,
  // so this is a drain pass of its own device.
  virtual void drain_own_ring() = 0;
  // The last packet this partition wrote on the channel (its device's or a
  // raw_packet's, whichever came later), if any.
  virtual std::optional<kmcl::WrittenPacket> last_written() = 0;
  // A raw_packet wrote this packet.
  virtual void wrote_raw_packet(const kmcl::WrittenPacket& packet) = 0;
  // A ring record for the trace; `ring` is the ring's trace name.
  virtual void trace(const std::string& ring, const std::string& op, const ring::RingView& view,
                     std::uint32_t bytes, std::uint32_t packets, const std::string& detail) = 0;
};

// The name ring records give `ring`: "host_to_guest" or "guest_to_host".
std::string ring_trace_name(proto::RingId ring);

// Each carries out one action; "" or why it was refused (nothing written).
std::string perform_ring_write(const proto::RingWriteAction& action, RawRingPort& port);
std::string perform_raw_packet(const proto::RawPacketAction& action, RawRingPort& port);
std::string perform_tamper(const proto::TamperAction& action, RawRingPort& port);
std::string perform_set_index(const proto::SetIndexAction& action, RawRingPort& port);

}  // namespace vmbus::partition
