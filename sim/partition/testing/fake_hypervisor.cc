#include "vmbus/partition/testing/fake_hypervisor.h"

#include <cstring>
#include <new>

#include "vmbus/base/check.h"
#include "vmbus/ring/layout.h"

namespace vmbus::partition::testing {

std::string FakeHypervisor::Post::text() const {
  return wire::describe_payload(payload);
}

std::uint32_t FakeHypervisor::post_message(std::uint32_t connection_id,
                                           std::span<const std::byte> payload) {
  std::uint32_t status = 0;
  if (!next_statuses_.empty()) {
    status = next_statuses_.front();
    next_statuses_.pop_front();
  } else if (const auto rule = status_by_connection_id_.find(connection_id);
             rule != status_by_connection_id_.end()) {
    status = rule->second;
  }
  posts.push_back(
      Post{connection_id, std::vector<std::byte>(payload.begin(), payload.end()), status});
  return status;
}

void FakeHypervisor::signal_event(std::uint32_t connection_id, std::uint32_t child_relid) {
  signals.push_back(Signal{connection_id, child_relid});
}

void FakeHypervisor::set_event_target(std::uint32_t child_relid, std::uint32_t vp) {
  event_targets.push_back(EventTarget{child_relid, vp});
}

void FakeHypervisor::end_of_message(std::uint32_t sint) {
  eoms.push_back(sint);
}

void FakeHypervisor::trace(proto::TraceRecord record) {
  records.push_back(std::move(record));
}

void FakeHypervisor::report(const std::vector<std::pair<std::string, std::string>>& values,
                            bool done) {
  reports.push_back(Report{values, done});
}

std::vector<std::string> FakeHypervisor::take_post_texts() {
  std::vector<std::string> texts;
  for (const Post& post : take_posts()) {
    texts.push_back(post.text());
  }
  return texts;
}

std::vector<std::string> FakeHypervisor::take_notes() {
  std::vector<std::string> notes;
  for (const proto::TraceRecord& record : std::exchange(records, {})) {
    if (record.has_note()) {
      notes.push_back(record.note().text());
    } else if (record.has_message() && !record.message().reason().empty()) {
      notes.push_back("ignored " + record.message().decoded() + ": " + record.message().reason());
    }
  }
  return notes;
}

FlatGuestMemory::FlatGuestMemory(std::uint64_t page_count)
    : page_count_(page_count),
      bytes_(static_cast<std::byte*>(::operator new[](page_count* ring::kHvPageSizeBytes,
                                                      std::align_val_t{ring::kHvPageSizeBytes}))) {
  std::memset(bytes_.get(), 0, page_count * ring::kHvPageSizeBytes);
}

void FlatGuestMemory::AlignedDelete::operator()(std::byte* bytes) const {
  ::operator delete[](bytes, std::align_val_t{ring::kHvPageSizeBytes});
}

std::span<std::byte> FlatGuestMemory::pages(std::uint64_t first_page, std::uint64_t count) {
  VMBUS_CHECK(pages_fit(first_page, count, page_count_),
              "guest pages " + std::to_string(first_page) + "+" + std::to_string(count) +
                  " lie outside guest memory");
  return {bytes_.get() + first_page * ring::kHvPageSizeBytes, count * ring::kHvPageSizeBytes};
}

std::vector<std::byte> slot_bytes(std::span<const std::byte> payload, std::uint32_t connection_id) {
  const wire::HvMessage slot = wire::make_hv_message(payload, connection_id);
  const auto bytes = std::as_bytes(std::span(&slot, 1));
  return {bytes.begin(), bytes.end()};
}

std::vector<std::byte> slot_bytes(const wire::Message& message, std::uint32_t connection_id) {
  return slot_bytes(wire::encode_message(message), connection_id);
}

}  // namespace vmbus::partition::testing
