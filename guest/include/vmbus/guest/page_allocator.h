// Guest "physical" pages for the guest's own use: ring buffers and the
// external data of KMCL sends. A first-fit allocator over page numbers; it
// never touches memory, so freeing in any order leaves the same free ranges.
#pragma once

#include <cstdint>
#include <map>
#include <optional>

namespace vmbus::guest {

class PageAllocator {
 public:
  PageAllocator(std::uint64_t first_page, std::uint64_t page_count);
  // The first page of `count` consecutive free pages, or nullopt.
  std::optional<std::uint64_t> allocate(std::uint32_t count);
  // Pages allocated before (a double free is a VMBUS_CHECK).
  void free(std::uint64_t first_page, std::uint32_t count);
  // Pages handed out and not freed yet: what the leak oracle accounts for.
  std::uint64_t allocated_pages() const { return allocated_pages_; }

 private:
  std::map<std::uint64_t, std::uint64_t> free_;  // first page -> count, adjacent ranges merged
  std::uint64_t allocated_pages_ = 0;
};

}  // namespace vmbus::guest
