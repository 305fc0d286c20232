#include "vmbus/shm/segment.h"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/permissions.hpp>
#include <boost/interprocess/shared_memory_object.hpp>

#include "vmbus/base/check.h"
#include "vmbus/ring/layout.h"

namespace vmbus::shm {

namespace bip = boost::interprocess;

// A named segment is Boost.Interprocess's object and region; an anonymous
// or inherited one is a plain shared mapping of a descriptor.
struct SharedSegment::Mapping {
  bip::shared_memory_object object;
  bip::mapped_region region;
  void* address = nullptr;
  std::size_t size_bytes = 0;
  int fd = -1;  // an anonymous segment's own descriptor, kept for children

  Mapping() = default;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping() {
    if (address != nullptr) {
      ::munmap(address, size_bytes);
    }
    if (fd >= 0) {
      ::close(fd);
    }
  }

  // Maps all of `file` (which it does not keep) read-write and shared.
  // Returns "" or why not.
  std::string map(int file) {
    struct stat status {};
    if (::fstat(file, &status) != 0) {
      return std::strerror(errno);
    }
    if (status.st_size <= 0) {
      return "it is empty";
    }
    size_bytes = static_cast<std::size_t>(status.st_size);
    void* mapped = ::mmap(nullptr, size_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, file, 0);
    if (mapped == MAP_FAILED) {
      return std::strerror(errno);
    }
    address = mapped;
    return "";
  }

  std::span<std::byte> bytes() const {
    if (address != nullptr) {
      return {static_cast<std::byte*>(address), size_bytes};
    }
    return {static_cast<std::byte*>(region.get_address()), region.get_size()};
  }
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

SharedSegment SharedSegment::create_anonymous(const std::string& name, std::size_t size_bytes) {
  auto mapping = std::make_unique<Mapping>();
  mapping->fd = ::memfd_create(name.c_str(), MFD_CLOEXEC);
  if (mapping->fd < 0) {
    throw std::runtime_error("cannot create anonymous shared-memory segment '" + name +
                             "': " + std::strerror(errno));
  }
  std::string problem;
  if (::ftruncate(mapping->fd, static_cast<off_t>(size_bytes)) != 0) {
    problem = std::strerror(errno);
  } else {
    problem = mapping->map(mapping->fd);
  }
  if (!problem.empty()) {
    throw std::runtime_error("cannot size or map shared-memory segment '" + name + "' to " +
                             std::to_string(size_bytes) + " bytes: " + problem);
  }
  return SharedSegment(name, std::move(mapping), /*owns_name=*/false);
}

SharedSegment SharedSegment::open(const std::string& locator) {
  auto mapping = std::make_unique<Mapping>();
  if (!locator.empty() && locator.front() == '/') {
    const int file = ::open(locator.c_str(), O_RDWR | O_CLOEXEC);
    std::string problem = file < 0 ? std::strerror(errno) : mapping->map(file);
    if (file >= 0) {
      ::close(file);  // the mapping keeps the memory
    }
    if (!problem.empty()) {
      throw std::runtime_error("cannot open shared-memory segment '" + locator + "': " + problem);
    }
    return SharedSegment(locator, std::move(mapping), /*owns_name=*/false);
  }
  const std::string& name = locator;
  try {
    mapping->object = bip::shared_memory_object(bip::open_only, name.c_str(), bip::read_write);
    mapping->region = bip::mapped_region(mapping->object, bip::read_write);
  } catch (const bip::interprocess_exception& e) {
    throw std::runtime_error("cannot open shared-memory segment '" + name + "': " + e.what());
  }
  return SharedSegment(name, std::move(mapping), /*owns_name=*/false);
}

std::span<std::byte> SharedSegment::bytes() const {
  return mapping_->bytes();
}

int SharedSegment::fd() const {
  return mapping_ ? mapping_->fd : -1;
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
