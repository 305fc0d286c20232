// Named shared-memory segments (Boost.Interprocess) and ring memory in them.
//
// In a run, the simulator creates one anonymous segment (the guest's
// "physical memory", a memfd): it has no name in /dev/shm, the partitions
// inherit its descriptor and map it through /proc/self/fd/N, and it
// disappears with the last process that maps or holds it -- also when the
// simulator is killed with SIGKILL (its partitions die with it). Host and
// guest place channel rings in its pages.
//
// Named segments (POSIX shared memory under /dev/shm) serve tools and tests
// that start unrelated processes. The creator owns the name:
// SharedSegment::create() removes it again when the object is destroyed.
// Names are unique per process and call, so parallel runs and parallel
// tests never collide.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "vmbus/ring/memory.h"

namespace vmbus::shm {

// Every segment name vmbus-sim creates starts with this prefix, so that a
// later run can recognise (and remove) segments a killed run left behind.
inline constexpr const char* kSegmentNamePrefix = "vmbus-sim-";

// "vmbus-sim-<pid>-<sequence>-<tag>": unique per process and call.
std::string make_unique_segment_name(const std::string& tag);

class SharedSegment {
 public:
  // Creates a new zero-filled segment of `size_bytes` with mode 0600. Throws
  // std::runtime_error naming the segment if it cannot. The segment's name is
  // removed when this object is destroyed.
  static SharedSegment create(const std::string& name, std::size_t size_bytes);

  // Creates a new zero-filled anonymous segment of `size_bytes` (a memfd
  // called `name`, close-on-exec): nothing in /dev/shm, and the memory goes
  // when the last process that maps it or holds its descriptor goes. Hand
  // fd() to a child and let it open "/proc/self/fd/N". Throws
  // std::runtime_error naming the segment if it cannot.
  static SharedSegment create_anonymous(const std::string& name, std::size_t size_bytes);

  // Maps an existing segment read-write; never removes it. `locator` is a
  // segment name, or a path starting with '/' (an inherited anonymous
  // segment: "/proc/self/fd/4"). Throws std::runtime_error if it does not
  // exist or cannot be mapped.
  static SharedSegment open(const std::string& locator);

  SharedSegment(SharedSegment&&) noexcept;
  SharedSegment& operator=(SharedSegment&&) noexcept;
  ~SharedSegment();

  const std::string& name() const { return name_; }
  std::span<std::byte> bytes() const;
  // The anonymous segment's descriptor (close-on-exec), or -1.
  int fd() const;

 private:
  struct Mapping;
  SharedSegment(std::string name, std::unique_ptr<Mapping> mapping, bool owns_name);

  std::string name_;
  std::unique_ptr<Mapping> mapping_;
  bool owns_name_ = false;
};

// Removes the named segment; true if it existed.
bool remove_segment(const std::string& name);

// A ring occupying `size_bytes` at `offset_bytes` of a segment. Both must be
// multiples of 4096 and inside the segment (checked).
class SharedRingMemory final : public ring::RingMemory {
 public:
  SharedRingMemory(const SharedSegment& segment, std::size_t offset_bytes, std::size_t size_bytes);

  std::span<std::byte> region() override { return region_; }

 private:
  std::span<std::byte> region_;
};

}  // namespace vmbus::shm
