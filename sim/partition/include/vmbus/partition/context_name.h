// The name of a partition context, as the simulator schedules it.
//
// A context name is a kind, optionally followed by the child_relid of the
// channel it works for and a rest: "msg", "control", "chan/3", "dpc/1",
// "kmcl/1/thread/op2". vmbus-host and vmbus-guest format their contexts with
// ContextName and parse the names the simulator grants back with it, so the
// two agree on one spelling.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vmbus::partition {

struct ContextName {
  std::string kind;                          // "msg", "chan", "kmcl", ...
  std::optional<std::uint32_t> child_relid;  // set for a channel's context
  std::string rest;                          // after "<kind>/<relid>/", e.g. "thread/op2"

  // "kind", "kind/relid" or "kind/relid/rest".
  std::string text() const;

  // The parts of `text`, or nullopt when the part after the first '/' is not
  // a child_relid (1 to 10 decimal digits that fit 32 bits).
  static std::optional<ContextName> parse(std::string_view text);
};

// "kind/relid", or "kind/relid/rest" when `rest` is not empty.
std::string channel_context(std::string_view kind, std::uint32_t child_relid,
                            std::string_view rest = {});

}  // namespace vmbus::partition
