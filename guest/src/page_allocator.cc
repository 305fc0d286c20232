#include "vmbus/guest/page_allocator.h"

#include <iterator>

#include "vmbus/base/check.h"

namespace vmbus::guest {

PageAllocator::PageAllocator(std::uint64_t first_page, std::uint64_t page_count) {
  if (page_count > 0) {
    free_[first_page] = page_count;
  }
}

std::optional<std::uint64_t> PageAllocator::allocate(std::uint32_t count) {
  for (auto it = free_.begin(); it != free_.end(); ++it) {
    if (it->second >= count) {
      const std::uint64_t first = it->first;
      const std::uint64_t left = it->second - count;
      free_.erase(it);
      if (left > 0) {
        free_[first + count] = left;
      }
      allocated_pages_ += count;
      return first;
    }
  }
  return std::nullopt;
}

void PageAllocator::free(std::uint64_t first_page, std::uint32_t count) {
  auto [it, inserted] = free_.emplace(first_page, count);
  VMBUS_CHECK(inserted, "double free of guest pages");
  VMBUS_CHECK(allocated_pages_ >= count, "more guest pages freed than allocated");
  allocated_pages_ -= count;
  // Merge with the following and the preceding range.
  if (auto next = std::next(it); next != free_.end() && it->first + it->second == next->first) {
    it->second += next->second;
    free_.erase(next);
  }
  if (it != free_.begin()) {
    auto previous = std::prev(it);
    if (previous->first + previous->second == it->first) {
      previous->second += it->second;
      free_.erase(it);
    }
  }
}

}  // namespace vmbus::guest
