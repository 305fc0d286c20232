#include "vmbus/cli/terminal.h"

#include <cmath>
#include <cstdio>

namespace vmbus::cli {
namespace {

bool is_set(const EnvironmentLookup& environment, const std::string& name) {
  const std::optional<std::string> value = environment(name);
  return value && !value->empty();
}

}  // namespace

std::optional<ColorMode> parse_color_mode(std::string_view text) {
  if (text == "auto") {
    return ColorMode::kAuto;
  }
  if (text == "always") {
    return ColorMode::kAlways;
  }
  if (text == "never") {
    return ColorMode::kNever;
  }
  return std::nullopt;
}

bool use_color(ColorMode mode, bool is_terminal, const EnvironmentLookup& environment) {
  switch (mode) {
    case ColorMode::kAlways:
      return true;
    case ColorMode::kNever:
      return false;
    case ColorMode::kAuto:
      break;
  }
  return is_terminal && !is_set(environment, "NO_COLOR") && terminal_can_redraw(environment);
}

bool terminal_can_redraw(const EnvironmentLookup& environment) {
  return environment("TERM").value_or("") != "dumb";
}

std::string colored(std::string_view text, Color color, bool enabled) {
  if (!enabled) {
    return std::string(text);
  }
  std::string_view start;
  switch (color) {
    case Color::kGreen:
      start = "\033[32m";
      break;
    case Color::kRed:
      start = "\033[31m";
      break;
    case Color::kBoldRed:
      start = "\033[1;31m";
      break;
    case Color::kYellow:
      start = "\033[33m";
      break;
  }
  return std::string(start) + std::string(text) + "\033[0m";
}

std::string format_duration(double seconds) {
  if (!(seconds >= 1) || !std::isfinite(seconds)) {
    return "0s";
  }
  const auto total = static_cast<unsigned long long>(std::llround(seconds));
  char text[48];
  if (total < 60) {
    std::snprintf(text, sizeof(text), "%llus", total);
  } else if (total < 3600) {
    std::snprintf(text, sizeof(text), "%llum%02llus", total / 60, total % 60);
  } else {
    std::snprintf(text, sizeof(text), "%lluh%02llum", total / 3600, total / 60 % 60);
  }
  return text;
}

std::string progress_text(const Progress& progress) {
  std::string text = progress.total == 0 ? "[" + std::to_string(progress.done) + " runs] "
                                         : "[" + std::to_string(progress.done) + "/" +
                                               std::to_string(progress.total) + "] ";
  text += std::to_string(progress.passed) + " passed, " + std::to_string(progress.failed) +
          " failed, " + std::to_string(progress.errors) + " errors";
  if (progress.done == 0 || !(progress.elapsed_s > 0)) {
    return text;
  }
  const double rate = static_cast<double>(progress.done) / progress.elapsed_s;
  char rate_text[48];
  std::snprintf(rate_text, sizeof(rate_text), "  %.1f runs/s", rate);
  text += rate_text;
  if (progress.total > progress.done) {
    text += "  ETA " + format_duration(static_cast<double>(progress.total - progress.done) / rate);
  }
  return text;
}

}  // namespace vmbus::cli
