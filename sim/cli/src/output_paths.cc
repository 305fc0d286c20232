#include "vmbus/cli/output_paths.h"

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <span>
#include <sys/stat.h>
#include <unistd.h>

#include "vmbus/cli/ring_image.h"

namespace vmbus::cli {

std::string os_reason(int error_number) {
  return std::strerror(error_number);
}

namespace {

namespace fs = std::filesystem;

fs::path directory_of(const fs::path& file) {
  const fs::path parent = file.parent_path();
  return parent.empty() ? fs::path(".") : parent;
}

// Creates and removes a file in `directory`: "" or the OS's reason.
std::string probe_directory(const fs::path& directory) {
  static std::atomic<unsigned> counter{0};
  const fs::path probe = directory / (".vmbus-sim-probe-" + std::to_string(::getpid()) + "-" +
                                      std::to_string(counter.fetch_add(1)));
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return os_reason(errno);
  }
  ::close(fd);
  ::unlink(probe.c_str());
  return "";
}

// Writes all of `content` to `fd`: "" or the OS's reason.
std::string write_all(int fd, std::string_view content) {
  while (!content.empty()) {
    const ssize_t written = ::write(fd, content.data(), content.size());
    if (written < 0) {
      if (errno == EINTR) {
        continue;
      }
      return os_reason(errno);
    }
    content.remove_prefix(static_cast<std::size_t>(written));
  }
  return "";
}

std::string write_in_place(const fs::path& path, std::string_view content) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    return "cannot write " + path.string() + ": " + os_reason(errno);
  }
  std::string problem = write_all(fd, content);
  ::close(fd);
  return problem.empty() ? "" : "cannot write " + path.string() + ": " + problem;
}

}  // namespace

std::string check_output_file(const fs::path& path) {
  std::error_code error;
  if (fs::is_directory(path, error)) {
    return path.string() + " is a directory";
  }
  const fs::path directory = directory_of(path);
  const fs::file_status status = fs::status(directory, error);
  if (!fs::exists(status)) {
    return "cannot write " + path.string() + ": " + directory.string() + " does not exist";
  }
  if (!fs::is_directory(status)) {
    return "cannot write " + path.string() + ": " + directory.string() + " is not a directory";
  }
  if (std::string reason = probe_directory(directory); !reason.empty()) {
    return "cannot write in " + directory.string() + ": " + reason;
  }
  return "";
}

std::string prepare_output_directory(const fs::path& path) {
  std::error_code error;
  if (fs::exists(path, error) && !fs::is_directory(path, error)) {
    return path.string() + " exists and is not a directory";
  }
  fs::create_directories(path, error);
  if (error) {
    return "cannot create " + path.string() + ": " + error.message();
  }
  if (std::string reason = probe_directory(path); !reason.empty()) {
    return "cannot write in " + path.string() + ": " + reason;
  }
  return "";
}

std::string make_temporary_directory(const fs::path& parent, std::string_view prefix,
                                     fs::path& created) {
  std::string pattern = (parent / (std::string(prefix) + "XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    return "cannot create a directory in " + parent.string() + ": " + os_reason(errno);
  }
  created = pattern;
  return "";
}

std::string check_program(const fs::path& path) {
  std::error_code error;
  const fs::file_status status = fs::status(path, error);
  if (!fs::exists(status)) {
    return path.string() + ": no such file";
  }
  if (!fs::is_regular_file(status)) {
    return path.string() + " is not a program (not a regular file)";
  }
  if (::access(path.c_str(), X_OK) != 0) {
    return path.string() + " is not executable: " + os_reason(errno);
  }
  return "";
}

std::string touch_file(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return "cannot touch " + path.string() + ": " + os_reason(errno);
  }
  const int result = ::futimens(fd, nullptr);
  const int saved = errno;
  ::close(fd);
  return result == 0 ? "" : "cannot touch " + path.string() + ": " + os_reason(saved);
}

std::string write_file_atomically(const fs::path& path, std::string_view content) {
  std::error_code error;
  const fs::file_status status = fs::status(path, error);
  if (fs::exists(status) && !fs::is_regular_file(status) && !fs::is_directory(status)) {
    return write_in_place(path, content);
  }
  return write_file_atomically(path, std::as_bytes(std::span(content.data(), content.size())));
}

}  // namespace vmbus::cli
