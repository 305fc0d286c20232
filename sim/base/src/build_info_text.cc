#include <string>

#include "vmbus/base/build_info.h"

namespace vmbus::base {

std::string build_identity(std::string_view version, std::string_view commit) {
  return std::string(version) + " (commit " + std::string(commit) + ")";
}

std::string build_identity() {
  return build_identity(build_info().version, build_info().commit);
}

bool is_this_build(std::string_view version, std::string_view commit) {
  const BuildInfo& self = build_info();
  return commit != "unknown" && version == self.version && commit == self.commit;
}

}  // namespace vmbus::base
