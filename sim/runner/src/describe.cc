// Trace matches and conditions in words, for the trace and for failure
// messages.
#include <cctype>

#include "internal.h"

namespace vmbus::runner {

std::string enum_words(const std::string& name) {
  std::string out = name;
  for (char& c : out) {
    c = c == '_' ? ' ' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string quoted(const std::string& channel) {
  return "'" + channel + "'";
}

std::string describe_match(const proto::TraceMatch& match) {
  std::string text = "\"" + match.text() + "\"";
  if (match.side() != proto::ANY_SIDE) {
    text += " from " + enum_words(proto::Side_Name(match.side()));
  }
  if (!match.channel().empty()) {
    text += " on " + quoted(match.channel());
  }
  return text;
}

std::string describe_condition(const proto::Condition& condition) {
  return "the trace shows " + describe_match(condition.event()) +
         (condition.count() > 1 ? " " + std::to_string(condition.count()) + " times" : "");
}

}  // namespace vmbus::runner
