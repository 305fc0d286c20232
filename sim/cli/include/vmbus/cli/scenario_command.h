// `vmbus-sim scenario`: tools that write scenario files. `from-ring IMAGE`
// writes a starter scenario around a ring image (a customer's dump of the
// guest's incoming ring): one channel that starts from the image, the
// guest interrupted once its driver has started, and the image's packets
// listed in the file's comment.
#pragma once

#include <filesystem>
#include <string>

#include "vmbus/cli/command.h"

namespace vmbus::cli {

const Command& scenario_command();

// The starter scenario's text for the ring image at `image`, named `name`;
// the file names the image as `image_in_file` (relative to the scenario's
// folder, or absolute). "" and `error` set when the image cannot be used.
std::string scenario_from_ring(const std::filesystem::path& image, const std::string& image_in_file,
                               const std::string& name, std::string& error);

}  // namespace vmbus::cli
