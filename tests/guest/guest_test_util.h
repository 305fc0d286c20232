// An in-process vmbus-guest: the real VmbusClient on a FakeHypervisor and
// flat guest memory, fed the host's messages one at a time.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "vmbus/guest/client.h"
#include "vmbus/partition/testing/fake_hypervisor.h"
#include "vmbus/wire/messages.h"
#include "vmbus/wire/versions.h"

namespace vmbus::guest::testing {

// 64 pages of guest memory; the guest hands out pages from 16.
inline constexpr std::uint64_t kGuestPages = 64;
inline constexpr std::uint32_t kFirstGpadl = 0xE1E10;

inline wire::VersionResponse version_response(bool supported, std::uint32_t msg_conn_id = 0) {
  wire::VersionResponse response;
  response.version_supported = supported ? 1 : 0;
  response.msg_conn_id = msg_conn_id;
  return response;
}

inline wire::OfferChannel offer(std::uint32_t relid) {
  wire::OfferChannel message;
  message.child_relid = relid;
  message.connection_id = wire::connection_id_of(relid);
  return message;
}

inline wire::GpadlCreated gpadl_created(std::uint32_t relid, std::uint32_t gpadl,
                                        std::uint32_t status = 0) {
  wire::GpadlCreated message;
  message.child_relid = relid;
  message.gpadl = gpadl;
  message.creation_status = status;
  return message;
}

inline wire::OpenChannelResult open_result(std::uint32_t relid, std::uint32_t status = 0) {
  wire::OpenChannelResult message;
  message.child_relid = relid;
  message.openid = relid;
  message.status = status;
  return message;
}

class GuestUnderTest {
 public:
  explicit GuestUnderTest(const proto::GuestConfig& config = {}) : memory_(kGuestPages) {
    partition::StartInfo info;
    info.role = proto::PARTITION_GUEST;
    info.memory = &memory_;
    info.seed = 1;
    info.config = config.SerializeAsString();
    start_error_ = client_.start(info, hv);
    hv.take_notes();
  }

  const std::string& start_error() const { return start_error_; }
  VmbusClient& client() { return client_; }
  partition::testing::FakeHypervisor hv;

  bool is_ready(const std::string& context) const {
    const std::vector<std::string> ready = client_.ready_contexts();
    return std::find(ready.begin(), ready.end(), context) != ready.end();
  }

  // Runs the "control" context while it is ready (at most `steps` times);
  // returns what it posted, as wire::describe() text.
  std::vector<std::string> control(int steps = 100) {
    run_control(steps);
    return hv.take_post_texts();
  }
  // The same, leaving the posts in hv.posts.
  void run_control(int steps = 100) {
    for (int i = 0; i < steps && is_ready("control"); ++i) {
      client_.step("control", hv);
    }
  }

  // The host's payload arrives in the message slot and the guest handles it.
  void receive_bytes(std::span<const std::byte> payload) {
    const std::vector<std::byte> slot = partition::testing::slot_bytes(payload);
    client_.deliver_message(wire::kVmbusMessageSint, slot, hv);
    ASSERT_TRUE(is_ready("msg"));
    client_.step("msg", hv);
  }
  void receive(const wire::Message& message) { receive_bytes(wire::encode_message(message)); }

  // Notes and reasons for ignored messages traced since the last call.
  std::vector<std::string> notes() { return hv.take_notes(); }

  // Connected at 5.3, offers requested.
  void connect() {
    control(1);
    receive(version_response(true, wire::kVmbusMessageConnectionId4));
    control(1);
    hv.take_posts();
    notes();
  }

  // Connected, channel `relid` offered and every offer delivered; the
  // control plane has posted the channel's GPADL.
  void offer_channel(std::uint32_t relid = 1) {
    connect();
    receive(offer(relid));
    receive(wire::AllOffersDelivered{});
    control();
    notes();
  }

  // ... and opened.
  void open_channel(std::uint32_t relid = 1) {
    offer_channel(relid);
    receive(gpadl_created(relid, kFirstGpadl));
    control(1);
    receive(open_result(relid));
    hv.take_posts();
    notes();
  }

  proto::GuestReport final_report() { return client_.final_report().guest(); }

 private:
  partition::testing::FlatGuestMemory memory_;
  VmbusClient client_;
  std::string start_error_;
};

}  // namespace vmbus::guest::testing
