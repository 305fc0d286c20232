// The HTML timeline's template, sim/cli/assets/timeline.html, as the build
// embedded it (sim/cli/assets/embed.cmake writes its definition).
#pragma once

#include <string_view>

namespace vmbus::cli {

std::string_view timeline_html_template();

}  // namespace vmbus::cli
