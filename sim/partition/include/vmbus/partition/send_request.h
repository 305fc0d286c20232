// A scenario's send, as both partitions carry it out.
//
// The host's VSP and the guest's KMCL driver send differently (ring packets
// the host queues itself; VmbPacketSend calls on the guest), but a
// SendAction means the same on both sides: the same payload bytes, the same
// default (16 counting bytes), the same limits on copies and external
// pages. What is side-specific -- a trans_id only the host may choose, the
// guest pages the external data lives in -- stays with each side.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "vmbus/proto/config.pb.h"
#include "vmbus/wire/result.h"

namespace vmbus::partition {

// More copies would only exhaust the partition's memory.
inline constexpr std::uint32_t kMaxSendCopies = 100'000;
// External data of one send, in pages.
inline constexpr std::uint32_t kMaxExternalPages = 1024;

struct SendRequest {
  std::vector<std::byte> payload;  // never empty: the action's, or 16 counting bytes
  std::uint32_t count = 1;         // copies (the action's 0 means 1)
  std::uint32_t external_pages = 0;
  bool request_completion = false;
};

// The bytes of a scenario payload: `raw` (the runner resolves text, hex
// and patterns into it), or `text` as is for a hand-built action; none is
// no bytes. A hex or pattern payload left unresolved is an error.
wire::Result<std::vector<std::byte>, std::string> payload_bytes(const proto::Payload& payload);

// `action` checked and with its defaults applied, or why it cannot be
// carried out.
wire::Result<SendRequest, std::string> send_request(const proto::SendAction& action);

}  // namespace vmbus::partition
