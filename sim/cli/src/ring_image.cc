#include "vmbus/cli/ring_image.h"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include "vmbus/cli/output_paths.h"
#include "vmbus/cli/ring_encode.h"
#include "vmbus/ring/layout.h"

namespace vmbus::cli {
namespace {

constexpr std::uint64_t kMaxImageBytes = kMaxRingDataSizeBytes + ring::kHvPageSizeBytes;
constexpr std::size_t kReadChunkBytes = std::size_t{1} << 16;

// Closes a file descriptor on every path out of a function.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }

  int get() const { return fd_; }

  // Closes now and reports close()'s error (0 or an errno value).
  int close() {
    const int fd = fd_;
    fd_ = -1;
    return ::close(fd) == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

bool is_valid_image_size(std::uint64_t size_bytes) {
  return size_bytes <= kMaxImageBytes && ring::is_valid_ring_size(size_bytes);
}

std::string size_error(const std::filesystem::path& path, std::uint64_t size_bytes) {
  return quote_path(path) + " is not a ring image: its size is " + std::to_string(size_bytes) +
         " bytes, but a ring image is a 4096-byte control page followed by a data area of a "
         "positive multiple of 4096 bytes (at most " +
         std::to_string(kMaxRingDataSizeBytes) + ")";
}

}  // namespace

std::string quote_path(const std::filesystem::path& path) {
  return "'" + path.string() + "'";
}

LoadedRingImage load_ring_image(const std::filesystem::path& path) {
  LoadedRingImage result;
  FileDescriptor file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (file.get() < 0) {
    result.error = "cannot open " + quote_path(path) + ": " + os_reason(errno);
    return result;
  }
  struct stat status {};
  if (::fstat(file.get(), &status) != 0) {
    result.error = "cannot read " + quote_path(path) + ": " + os_reason(errno);
    return result;
  }
  if (S_ISDIR(status.st_mode)) {
    result.error = "cannot read " + quote_path(path) + ": " + os_reason(EISDIR);
    return result;
  }
  // A regular file's size is known up front: refuse a wrong one before
  // reading gigabytes of it. Pipes and devices are read to the end.
  if (S_ISREG(status.st_mode) && !is_valid_image_size(static_cast<std::uint64_t>(status.st_size))) {
    result.error = size_error(path, static_cast<std::uint64_t>(status.st_size));
    return result;
  }

  std::vector<std::byte> bytes;
  while (true) {
    const std::size_t used = bytes.size();
    bytes.resize(used + kReadChunkBytes);
    const ssize_t got = ::read(file.get(), bytes.data() + used, kReadChunkBytes);
    if (got < 0) {
      if (errno == EINTR) {
        bytes.resize(used);
        continue;
      }
      result.error = "cannot read " + quote_path(path) + ": " + os_reason(errno);
      return result;
    }
    bytes.resize(used + static_cast<std::size_t>(got));
    if (got == 0) {
      break;
    }
    if (bytes.size() > kMaxImageBytes) {
      result.error = size_error(path, bytes.size());
      return result;
    }
  }
  if (!is_valid_image_size(bytes.size())) {
    result.error = size_error(path, bytes.size());
    return result;
  }

  const auto data_size = static_cast<std::uint32_t>(bytes.size() - ring::kHvPageSizeBytes);
  result.memory = std::make_unique<ring::FlatRingMemory>(data_size);
  std::memcpy(result.memory->region().data(), bytes.data(), bytes.size());
  return result;
}

std::string write_file_atomically(const std::filesystem::path& path,
                                  std::span<const std::byte> bytes) {
  const std::filesystem::path directory =
      path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  const std::string name = path.filename().string();
  if (name.empty()) {
    return "cannot write " + quote_path(path) + ": " + os_reason(EISDIR);
  }

  // O_EXCL with a name of our own keeps two writers (or a stale file from a
  // crash) from sharing a temporary; mode 0666 lets the umask decide the
  // final permissions as for any newly created file.
  std::filesystem::path temporary;
  int fd = -1;
  for (int attempt = 0; fd < 0 && attempt < 100; ++attempt) {
    temporary = directory /
                ("." + name + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(attempt));
    fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST) {
      return "cannot create a temporary file next to " + quote_path(path) + " (" +
             quote_path(temporary) + "): " + os_reason(errno);
    }
  }
  if (fd < 0) {
    return "cannot create a temporary file next to " + quote_path(path) + ": " + os_reason(EEXIST);
  }
  FileDescriptor file(fd);

  auto fail = [&](int error_number) {
    ::unlink(temporary.c_str());
    return "cannot write " + quote_path(temporary) + ": " + os_reason(error_number);
  };
  std::size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t put = ::write(file.get(), bytes.data() + written, bytes.size() - written);
    if (put < 0) {
      if (errno == EINTR) {
        continue;
      }
      const int error_number = errno;
      file.close();
      return fail(error_number);
    }
    written += static_cast<std::size_t>(put);
  }
  if (const int error_number = file.close(); error_number != 0) {
    return fail(error_number);
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    const int error_number = errno;
    ::unlink(temporary.c_str());
    return "cannot replace " + quote_path(path) + ": " + os_reason(error_number);
  }
  return {};
}

}  // namespace vmbus::cli
