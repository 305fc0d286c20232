// How `vmbus-sim run` talks to a terminal: colour, and the progress line.
//
// Colour follows the conventions users set once for every tool: --color
// auto (the default) colours only a terminal, and not when NO_COLOR is set
// to anything non-empty (no-color.org) or TERM is "dumb"; --color always
// and never override both, so a CI log that renders ANSI colour can ask for
// it. The progress line counts runs and shows the rate and the time left;
// it is redrawn in place on a terminal that can (not TERM=dumb) and printed
// as an occasional plain line otherwise. Nothing here shapes a run: the
// wall clock only feeds the rate and the estimate.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "vmbus/cli/sweep_flags.h"

namespace vmbus::cli {

enum class ColorMode : std::uint8_t { kAuto, kAlways, kNever };

// "auto", "always" or "never".
std::optional<ColorMode> parse_color_mode(std::string_view text);

// Whether to colour a stream that is (or is not) a terminal.
bool use_color(ColorMode mode, bool is_terminal, const EnvironmentLookup& environment);

// Whether a terminal can erase a line it redraws: every one but TERM=dumb.
bool terminal_can_redraw(const EnvironmentLookup& environment);

enum class Color : std::uint8_t { kGreen, kRed, kBoldRed, kYellow };

// `text` wrapped in the ANSI colour and a reset, or as it is.
std::string colored(std::string_view text, Color color, bool enabled);

struct Progress {
  std::uint64_t done = 0;
  std::uint64_t total = 0;  // 0: open-ended (--until-fail)
  std::uint64_t passed = 0;
  std::uint64_t failed = 0;
  std::uint64_t errors = 0;
  double elapsed_s = 0;
};

// "[120/10000] 118 passed, 2 failed, 0 errors  14.2 runs/s  ETA 11m36s";
// without a total "[120 runs] ..." and no ETA; the rate and the estimate
// only once a run is done and time has passed.
std::string progress_text(const Progress& progress);

// A duration for people: "45s", "11m36s", "2h05m"; under a second "0s".
std::string format_duration(double seconds);

}  // namespace vmbus::cli
