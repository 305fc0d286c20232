// The paths a command writes to and the programs it starts, checked before
// any work starts, and files written whole or not at all.
//
// A sweep that runs for an hour must not find out at the end that it
// cannot write its report, nor turn every run into an error because its
// trace directory is read-only. Commands call these checks while parsing
// their flags and report a problem as a usage error (exit 2) that names
// the flag, the path and the operating system's reason. The checks probe
// for real (a directory is writable once a file could be created in it)
// rather than guessing from permission bits, which root ignores.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace vmbus::cli {

// The operating system's words for the errno value `error_number`, as the
// commands' messages end: "Permission denied".
std::string os_reason(int error_number);

// "" when a file can be written at `path`: its directory exists and takes
// a new file, and `path` is not a directory. Otherwise why not, e.g.
// "cannot write in /sys: Permission denied".
std::string check_output_file(const std::filesystem::path& path);

// Creates `path` (and its parents) if needed; "" when it is a directory
// that takes a new file, otherwise why not.
std::string prepare_output_directory(const std::filesystem::path& path);

// Creates a fresh directory in `parent` named `prefix` and six random
// characters (mkdtemp(3): mode 0700, a name no other process has or can
// take over), and sets `created` to it; "" or why it could not.
std::string make_temporary_directory(const std::filesystem::path& parent, std::string_view prefix,
                                     std::filesystem::path& created);

// "" when `path` is a regular file this process may execute; otherwise
// why not, e.g. "no such file" or "not executable".
std::string check_program(const std::filesystem::path& path);

// Creates `path` if it does not exist and updates its modification time
// (as touch(1) does); "" or why it could not.
std::string touch_file(const std::filesystem::path& path);

// Writes `content` to `path` whole or not at all, as the byte version in
// ring_image.h does (a temporary file beside it, renamed over it; a failure
// leaves neither a partial file nor the temporary one), except that a path
// that exists and is not a regular file (a pipe, /dev/stdout, /dev/null) is
// written in place rather than replaced. "" or why it could not.
std::string write_file_atomically(const std::filesystem::path& path, std::string_view content);

}  // namespace vmbus::cli
