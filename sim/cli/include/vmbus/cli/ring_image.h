// Ring image files: one VMBus ring exactly as it sits in guest memory.
//
// An image is the 4096-byte control page followed by the data area, so its
// size is 4096 plus a positive multiple of 4096 (ring::is_valid_ring_size).
// Loading copies the file into a FlatRingMemory the caller owns; nothing
// ever maps or modifies the file itself. Writing goes through a temporary
// file in the target's directory and a rename, so a failed write never
// leaves a partial image where a good one was.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <span>
#include <string>

#include "vmbus/ring/memory.h"

namespace vmbus::cli {

struct LoadedRingImage {
  std::unique_ptr<ring::FlatRingMemory> memory;  // null on error
  std::string error;                             // when memory is null: why, naming the path
};

// Reads the image at `path`. Errors (missing or unreadable file, a size that
// is not a ring) come back as text such as
// "cannot open 'x.img': No such file or directory".
LoadedRingImage load_ring_image(const std::filesystem::path& path);

// Replaces `path` with `bytes` atomically: writes a temporary file next to it
// and renames it over `path`. Returns an empty string on success, else the
// reason naming the path; `path` is untouched on failure.
std::string write_file_atomically(const std::filesystem::path& path,
                                  std::span<const std::byte> bytes);

// "'<path>'", the way the tools name files in messages.
std::string quote_path(const std::filesystem::path& path);

}  // namespace vmbus::cli
