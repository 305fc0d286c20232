#include "vmbus/shm/segment.h"

#include <atomic>
#include <stdexcept>
#include <unistd.h>
#include <utility>

#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/permissions.hpp>
#include <boost/interprocess/shared_memory_object.hpp>

#include "vmbus/base/check.h"
#include "vmbus/ring/layout.h"

namespace vmbus::shm {

namespace bip = boost::interprocess;

struct SharedSegment::Mapping {
  bip::shared_memory_object object;
  bip::mapped_region region;
};

std::string make_unique_segment_name(const std::string& tag) {
  static std::atomic<std::uint64_t> sequence{0};
  return std::string(kSegmentNamePrefix) + std::to_string(::getpid()) + "-" +
         std::to_string(sequence.fetch_add(1, std::memory_order_relaxed)) + "-" + tag;
}

SharedSegment::SharedSegment(std::string name, std::unique_ptr<Mapping> mapping, bool owns_name)
    : name_(std::move(name)), mapping_(std::move(mapping)), owns_name_(owns_name) {}

SharedSegment::SharedSegment(SharedSegment&& other) noexcept
    : name_(std::move(other.name_)),
      mapping_(std::move(other.mapping_)),
      owns_name_(std::exchange(other.owns_name_, false)) {}

SharedSegment& SharedSegment::operator=(SharedSegment&& other) noexcept {
  if (this != &other) {
    if (owns_name_) {
      bip::shared_memory_object::remove(name_.c_str());
    }
    name_ = std::move(other.name_);
    mapping_ = std::move(other.mapping_);
    owns_name_ = std::exchange(other.owns_name_, false);
  }
  return *this;
}

SharedSegment::~SharedSegment() {
  if (owns_name_) {
    bip::shared_memory_object::remove(name_.c_str());
  }
}

SharedSegment SharedSegment::create(const std::string& name, std::size_t size_bytes) {
  bip::permissions owner_only;
  owner_only.set_permissions(0600);
  auto mapping = std::make_unique<Mapping>();
  try {
    mapping->object =
        bip::shared_memory_object(bip::create_only, name.c_str(), bip::read_write, owner_only);
  } catch (const bip::interprocess_exception& e) {
    throw std::runtime_error("cannot create shared-memory segment '" + name + "': " + e.what());
  }
  // From here on the name exists: the SharedSegment owns it, so any failure
  // below removes it again through the destructor.
  SharedSegment segment(name, std::move(mapping), /*owns_name=*/true);
  try {
    segment.mapping_->object.truncate(static_cast<bip::offset_t>(size_bytes));
    segment.mapping_->region = bip::mapped_region(segment.mapping_->object, bip::read_write);
  } catch (const bip::interprocess_exception& e) {
    throw std::runtime_error("cannot size or map shared-memory segment '" + name + "' to " +
                             std::to_string(size_bytes) + " bytes: " + e.what());
  }
  return segment;
}

SharedSegment SharedSegment::open(const std::string& name) {
  auto mapping = std::make_unique<Mapping>();
  try {
    mapping->object = bip::shared_memory_object(bip::open_only, name.c_str(), bip::read_write);
    mapping->region = bip::mapped_region(mapping->object, bip::read_write);
  } catch (const bip::interprocess_exception& e) {
    throw std::runtime_error("cannot open shared-memory segment '" + name + "': " + e.what());
  }
  return SharedSegment(name, std::move(mapping), /*owns_name=*/false);
}

std::span<std::byte> SharedSegment::bytes() const {
  return {static_cast<std::byte*>(mapping_->region.get_address()), mapping_->region.get_size()};
}

bool remove_segment(const std::string& name) {
  return bip::shared_memory_object::remove(name.c_str());
}

SharedRingMemory::SharedRingMemory(const SharedSegment& segment, std::size_t offset_bytes,
                                   std::size_t size_bytes) {
  const std::span<std::byte> all = segment.bytes();
  VMBUS_CHECK(offset_bytes % ring::kHvPageSizeBytes == 0 && ring::is_valid_ring_size(size_bytes),
              "ring at offset " + std::to_string(offset_bytes) + " of " +
                  std::to_string(size_bytes) + " bytes is not page-granular");
  VMBUS_CHECK(offset_bytes <= all.size() && size_bytes <= all.size() - offset_bytes,
              "ring at offset " + std::to_string(offset_bytes) + " of " +
                  std::to_string(size_bytes) + " bytes lies outside segment '" + segment.name() +
                  "'");
  region_ = all.subspan(offset_bytes, size_bytes);
}

}  // namespace vmbus::shm
