#include "vmbus/partition/context_name.h"

#include <algorithm>
#include <cctype>
#include <limits>

namespace vmbus::partition {

std::string ContextName::text() const {
  if (!child_relid) {
    return kind;
  }
  return channel_context(kind, *child_relid, rest);
}

std::optional<ContextName> ContextName::parse(std::string_view text) {
  ContextName name;
  const std::size_t slash = text.find('/');
  name.kind = std::string(text.substr(0, slash));
  if (slash == std::string_view::npos) {
    return name;
  }
  const std::string_view after = text.substr(slash + 1);
  const std::size_t end = after.find('/');
  const std::string_view digits = after.substr(0, end);
  if (digits.empty() || digits.size() > 10 ||
      !std::all_of(digits.begin(), digits.end(),
                   [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; })) {
    return std::nullopt;
  }
  std::uint64_t relid = 0;
  for (const char c : digits) {
    relid = relid * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (relid > std::numeric_limits<std::uint32_t>::max()) {
    return std::nullopt;
  }
  name.child_relid = static_cast<std::uint32_t>(relid);
  if (end != std::string_view::npos) {
    name.rest = std::string(after.substr(end + 1));
  }
  return name;
}

std::string channel_context(std::string_view kind, std::uint32_t child_relid,
                            std::string_view rest) {
  std::string text = std::string(kind) + "/" + std::to_string(child_relid);
  if (!rest.empty()) {
    text += "/";
    text += rest;
  }
  return text;
}

}  // namespace vmbus::partition
