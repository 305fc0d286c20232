// Words shared by the engine's messages.
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

std::string describe_condition(const proto::Condition& condition) {
  return "the trace shows " + describe_match(condition.event()) +
         (condition.count() > 1 ? " " + std::to_string(condition.count()) + " times" : "");
}

}  // namespace vmbus::runner
