// In-process stand-ins for what a partition's logic sees of a run, so a test
// can drive vmbus-host's or vmbus-guest's logic message by message in one
// process: a FakeHypervisor that records every hypercall and trace record
// (and answers posts with scripted HV statuses), flat guest memory, and the
// SynIC slot bytes the simulator would deliver.
//
// Library vmbus_partition_testing; for tests only.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "vmbus/partition/guest_memory.h"
#include "vmbus/partition/partition.h"
#include "vmbus/proto/trace.pb.h"
#include "vmbus/wire/codec.h"

namespace vmbus::partition::testing {

class FakeHypervisor final : public Hypervisor {
 public:
  struct Post {
    std::uint32_t connection_id = 0;
    std::vector<std::byte> payload;
    std::uint32_t hv_status = 0;  // what the post was answered with

    // wire::describe() of the payload ("CHANNELMSG_GPADL_TORNDOWN
    // gpadl=0xe1e10"), or why it does not parse.
    std::string text() const;
  };
  struct Signal {
    std::uint32_t connection_id = 0;
    std::uint32_t child_relid = 0;
  };
  struct EventTarget {
    std::uint32_t child_relid = 0;
    std::uint32_t vp = 0;
  };
  struct Report {
    std::vector<std::pair<std::string, std::string>> values;
    bool done = false;
  };

  // The next post is answered with `hv_status` (statuses queue up in order;
  // a post with none queued gets the connection id's rule, else success).
  void answer_next_post(std::uint32_t hv_status) { next_statuses_.push_back(hv_status); }
  // Every post to `connection_id` is answered with `hv_status` (a host below
  // 5.0 has no connection id 4: HV_STATUS_INVALID_CONNECTION_ID).
  void answer_posts_to(std::uint32_t connection_id, std::uint32_t hv_status) {
    status_by_connection_id_[connection_id] = hv_status;
  }

  std::uint32_t post_message(std::uint32_t connection_id,
                             std::span<const std::byte> payload) override;
  void signal_event(std::uint32_t connection_id, std::uint32_t child_relid) override;
  void set_event_target(std::uint32_t child_relid, std::uint32_t vp) override;
  void end_of_message(std::uint32_t sint) override;
  void trace(proto::TraceRecord record) override;
  void report(const std::vector<std::pair<std::string, std::string>>& values, bool done) override;
  std::uint64_t now_ns() const override { return now_ns_; }
  void set_now_ns(std::uint64_t now_ns) { now_ns_ = now_ns; }

  // What happened, in order; take_*() hands it over and forgets it.
  std::vector<Post> posts;
  std::vector<Signal> signals;
  std::vector<EventTarget> event_targets;
  std::vector<std::uint32_t> eoms;  // the SINTs whose slot was freed
  std::vector<proto::TraceRecord> records;
  std::vector<Report> reports;

  std::vector<Post> take_posts() { return std::exchange(posts, {}); }
  // Post::text() of every post so far, then forgets them.
  std::vector<std::string> take_post_texts();
  // The text of every note record so far ("connected at ..."), and of every
  // message record's reason for a message ignored; then forgets all records.
  std::vector<std::string> take_notes();

 private:
  std::deque<std::uint32_t> next_statuses_;
  std::map<std::uint32_t, std::uint32_t> status_by_connection_id_;
  std::uint64_t now_ns_ = 0;
};

// Guest memory in one private, page-aligned, zero-filled heap buffer.
class FlatGuestMemory final : public GuestMemory {
 public:
  explicit FlatGuestMemory(std::uint64_t page_count);
  std::uint64_t page_count() const override { return page_count_; }
  std::span<std::byte> pages(std::uint64_t first_page, std::uint64_t count) override;

 private:
  struct AlignedDelete {
    void operator()(std::byte* bytes) const;
  };
  std::uint64_t page_count_;
  std::unique_ptr<std::byte[], AlignedDelete> bytes_;
};

// The 256-byte SynIC slot the simulator delivers for `payload` posted on
// `connection_id` (message type 1, the sender field holding the id).
std::vector<std::byte> slot_bytes(std::span<const std::byte> payload,
                                  std::uint32_t connection_id = 1);
std::vector<std::byte> slot_bytes(const wire::Message& message, std::uint32_t connection_id = 1);

}  // namespace vmbus::partition::testing
