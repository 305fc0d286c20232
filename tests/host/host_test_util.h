// An in-process vmbus-host: the real VmbusServer on a FakeHypervisor and
// flat guest memory, fed the guest's messages one at a time.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "vmbus/host/server.h"
#include "vmbus/partition/testing/fake_hypervisor.h"
#include "vmbus/wire/gpadl.h"
#include "vmbus/wire/messages.h"
#include "vmbus/wire/versions.h"

namespace vmbus::host::testing {

// 64 pages of guest memory: pages 0..63.
inline constexpr std::uint64_t kGuestPages = 64;
inline constexpr std::uint32_t kGpadl = 0xE1E10;

// Offers channels 1..count with an echo VSP, up to protocol `max_version`
// (0 = 5.3).
inline proto::HostConfig host_config(std::uint32_t count = 1, std::uint32_t max_version = 0) {
  proto::HostConfig config;
  config.set_max_version(max_version);
  for (std::uint32_t relid = 1; relid <= count; ++relid) {
    proto::ChannelOfferConfig* channel = config.add_channels();
    channel->set_child_relid(relid);
    channel->set_interface_guid("f8615163-df3e-46c5-913f-f2d2f965ed0e");
    channel->mutable_vsp()->set_kind(proto::VspConfig::KIND_ECHO);
  }
  return config;
}

// INITIATE_CONTACT as the guest sends it: on connection id 4 from 5.0.
inline wire::InitiateContact contact(std::uint32_t version) {
  wire::InitiateContact message;
  message.vmbus_version_requested = version;
  if (wire::uses_message_connection_id_4(version)) {
    message.set_msg_target(2, 0);
  }
  return message;
}

inline wire::OpenChannel open_channel(std::uint32_t relid, std::uint32_t gpadl,
                                      std::uint32_t offset) {
  wire::OpenChannel message;
  message.child_relid = relid;
  message.openid = relid;
  message.ringbuffer_gpadlhandle = gpadl;
  message.downstream_ringbuffer_pageoffset = offset;
  return message;
}

class HostUnderTest {
 public:
  explicit HostUnderTest(const proto::HostConfig& config = host_config()) : memory_(kGuestPages) {
    partition::StartInfo info;
    info.role = proto::PARTITION_HOST;
    info.memory = &memory_;
    info.config = config.SerializeAsString();
    start_error_ = server_.start(info, hv);
    hv.take_notes();
  }

  const std::string& start_error() const { return start_error_; }
  VmbusServer& server() { return server_; }
  partition::testing::FakeHypervisor hv;

  // The guest's payload arrives in the message slot and the host handles it.
  void receive_bytes(std::span<const std::byte> payload, std::uint32_t connection_id = 1) {
    const std::vector<std::byte> slot = partition::testing::slot_bytes(payload, connection_id);
    server_.deliver_message(wire::kVmbusMessageSint, slot, hv);
    ASSERT_TRUE(is_ready("msg"));
    server_.step("msg", hv);
  }
  void receive(const wire::Message& message, std::uint32_t connection_id = 1) {
    receive_bytes(wire::encode_message(message), connection_id);
  }

  // Every reply the host has queued, posted now, as wire::describe() text.
  std::vector<std::string> replies() {
    for (int i = 0; i < 1000 && is_ready("post"); ++i) {
      server_.step("post", hv);
    }
    return hv.take_post_texts();
  }

  // Notes and reasons for ignored messages traced since the last call.
  std::vector<std::string> notes() { return hv.take_notes(); }

  bool is_ready(const std::string& context) const {
    const std::vector<std::string> ready = server_.ready_contexts();
    return std::find(ready.begin(), ready.end(), context) != ready.end();
  }

  // Connected at 5.3 with the offers requested and answered.
  void connect() {
    receive(contact(wire::kVersionWin10V5_3), wire::kVmbusMessageConnectionId4);
    receive(wire::RequestOffers{});
    replies();
    notes();
  }

  // A GPADL of `pages` pages from page 16, in as many messages as it takes.
  void create_gpadl(std::uint32_t relid, std::uint32_t gpadl, std::uint32_t pages) {
    std::vector<std::uint64_t> pfns;
    for (std::uint32_t i = 0; i < pages; ++i) {
      pfns.push_back(16 + i);
    }
    for (const std::vector<std::byte>& payload : wire::split_gpadl(relid, gpadl, pfns)) {
      receive_bytes(payload);
    }
  }

  // Runs the VSPs' KMCL devices ("kmcl/<relid>/..." contexts) until none is
  // ready: their open and close sequences, driver threads, DPCs.
  void run_vsps() {
    for (int i = 0; i < 10'000; ++i) {
      const std::vector<std::string> ready = server_.ready_contexts();
      const auto vsp = std::find_if(ready.begin(), ready.end(), [](const std::string& context) {
        return context.rfind("kmcl/", 0) == 0;
      });
      if (vsp == ready.end()) {
        return;
      }
      server_.step(*vsp, hv);
    }
    ADD_FAILURE() << "the VSPs never went idle";
  }

  // Whether a context of channel `relid`'s VSP is ready.
  bool vsp_ready(std::uint32_t relid) const {
    const std::string prefix = "kmcl/" + std::to_string(relid) + "/";
    const std::vector<std::string> ready = server_.ready_contexts();
    return std::any_of(ready.begin(), ready.end(), [&prefix](const std::string& context) {
      return context.rfind(prefix, 0) == 0;
    });
  }

  // Connected, with channel `relid` open on an 8-page GPADL (4 + 4 pages):
  // the VSP's EvtChannelOpened ran and the OPENCHANNEL was answered.
  void open(std::uint32_t relid = 1) {
    connect();
    create_gpadl(relid, kGpadl, 8);
    receive(open_channel(relid, kGpadl, 4));
    run_vsps();
    replies();
    notes();
  }

  proto::HostChannelReport channel_report(std::uint32_t relid) {
    const proto::FinalReport report = server_.final_report();
    for (const proto::HostChannelReport& channel : report.host().channels()) {
      if (channel.child_relid() == relid) {
        return channel;
      }
    }
    ADD_FAILURE() << "no report for channel " << relid;
    return {};
  }

 private:
  partition::testing::FlatGuestMemory memory_;
  VmbusServer server_;
  std::string start_error_;
};

}  // namespace vmbus::host::testing
