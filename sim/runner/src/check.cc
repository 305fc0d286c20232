#include "check.h"

#include <algorithm>
#include <cctype>
#include <utility>

#include "vmbus/wire/message_table.h"

namespace vmbus::runner {
namespace {

namespace pb = google::protobuf;

constexpr std::uint64_t kMaxPayloadBytes = 65536;

using Kind = proto::DriverAction::Kind;

// What an action of `kind` does with a completion payload and later_steps.
bool completes_with_payload(Kind kind) {
  return kind != proto::DriverAction::KIND_DEFER && kind != proto::DriverAction::KIND_FAIL &&
         kind != proto::DriverAction::KIND_LEAVE_OUTSTANDING &&
         kind != proto::DriverAction::KIND_ECHO;
}

bool waits_steps(Kind kind) {
  return kind == proto::DriverAction::KIND_COMPLETE_LATER ||
         kind == proto::DriverAction::KIND_DEFER_OUTSIDE_CALLBACK ||
         kind == proto::DriverAction::KIND_FAIL_OUTSIDE_CALLBACK;
}

}  // namespace

std::pair<int, int> Where::at(const std::string& field, int index) const {
  const pb::FieldDescriptor* f = descriptor_->FindFieldByName(field);
  if (tree_ != nullptr && f != nullptr) {
    const pb::TextFormat::ParseLocation location =
        tree_->GetLocation(f, f->is_repeated() ? std::max(index, 0) : -1);
    if (location.line >= 0) {
      return {location.line + 1, location.column + 1};
    }
  }
  return {line_, column_};
}

Where Where::nested(const std::string& field, int index) const {
  const pb::FieldDescriptor* f = descriptor_->FindFieldByName(field);
  const auto [line, column] = at(field, index);
  if (f == nullptr || f->message_type() == nullptr) {
    return Where(nullptr, descriptor_, line, column);
  }
  const pb::TextFormat::ParseInfoTree* child =
      tree_ != nullptr ? tree_->GetTreeForNested(f, f->is_repeated() ? std::max(index, 0) : -1)
                       : nullptr;
  return Where(child, f->message_type(), line, column);
}

void Checks::problem(const Where& where, const std::string& field, int index,
                     const std::string& text) {
  const auto [line, column] = where.at(field, index);
  problems_.push_back(ScenarioProblem{file_, line, column, text});
}

const std::string* Checks::loaded_driver(const std::string& channel, proto::Side side) const {
  const auto it = loaded_.find({channel, side == proto::HOST ? proto::HOST : proto::GUEST});
  return it != loaded_.end() ? &it->second : nullptr;
}

bool Checks::any_loaded_driver(proto::Side side) const {
  return std::any_of(loaded_.begin(), loaded_.end(),
                     [side](const auto& entry) { return entry.first.second == side; });
}

void Checks::scripted_only(const Where& where, const std::string& field, const std::string& channel,
                           proto::Side side, const std::string& what) {
  if (const std::string* library = loaded_driver(channel, side)) {
    problem(where, field,
            what + " needs the scripted driver, but the " +
                (side == proto::HOST ? "host" : "guest") + " end of '" + channel +
                "' runs the driver " + *library + ", which decides that for itself");
  }
}

void Checks::channel(const Where& where, const std::string& name, bool required) {
  if (name.empty()) {
    if (required) {
      problem(where, "channel", "no channel named (channel: \"...\")");
    }
    return;
  }
  if (channels_.count(name) == 0) {
    std::string known;
    for (const std::string& c : channels_) {
      known += (known.empty() ? "" : ", ") + ("'" + c + "'");
    }
    problem(where, "channel", "unknown channel '" + name + "' (the topology has " + known + ")");
  }
}

void Checks::payload(const Where& where, const std::string& field, const proto::Payload& payload) {
  const Where p = where.nested(field);
  switch (payload.data_case()) {
    case proto::Payload::kRaw:
      problem(p, "raw", "raw is set by the runner; write text, hex or pattern");
      break;
    case proto::Payload::kHex: {
      std::size_t digits = 0;
      for (char c : payload.hex()) {
        if (std::isxdigit(static_cast<unsigned char>(c))) {
          ++digits;
        } else if (c != ' ' && c != ':' && c != '\n') {
          problem(p, "hex",
                  std::string("hex payload has a character that is not a hex digit: '") + c + "'");
          return;
        }
      }
      if (digits % 2 != 0) {
        problem(p, "hex",
                "hex payload has an odd number of digits (" + std::to_string(digits) + ")");
      }
      break;
    }
    case proto::Payload::kPattern:
      if (payload.pattern().size() > kMaxPayloadBytes) {
        problem(
            p.nested("pattern"), "size",
            "pattern size " + std::to_string(payload.pattern().size()) + " is above 65536 bytes");
      }
      if (payload.pattern().fill() > 255) {
        problem(p.nested("pattern"), "fill",
                "fill " + std::to_string(payload.pattern().fill()) + " is not a byte (0..255)");
      }
      break;
    default:
      break;
  }
}

void Checks::runner_field(const Where& where, std::uint32_t value) {
  if (value != 0) {
    problem(where, "child_relid", "child_relid is set by the runner; name the channel instead");
  }
}

void Checks::vp(const Where& where, const std::string& field, std::uint32_t vp) {
  if (vp >= guest_vps_) {
    problem(where, field,
            field + " " + std::to_string(vp) + " is not one of the guest's " +
                std::to_string(guest_vps_) + " VP(s) (topology guest_vps)");
  }
}

void Checks::action(const Where& where, const proto::DriverAction& action) {
  if (!proto::DriverAction::Kind_IsValid(action.kind())) {
    problem(where, "kind",
            "unknown action kind " + std::to_string(action.kind()) +
                " (KIND_COMPLETE, KIND_COMPLETE_LATER, KIND_DEFER, KIND_FAIL, KIND_ECHO, ...)");
    return;
  }
  const std::string name = proto::DriverAction::Kind_Name(action.kind());
  if (action.echo_payload() && !action.completion_text().empty()) {
    problem(where, "completion_text", "echo_payload and completion_text contradict each other");
  }
  if (!completes_with_payload(action.kind())) {
    for (const auto& [field, set] :
         {std::pair<const char*, bool>{"echo_payload", action.echo_payload()},
          {"completion_text", !action.completion_text().empty()}}) {
      if (set) {
        problem(where, field,
                std::string(field) + " is for an action that completes; " + name + " does not");
      }
    }
  }
  if (action.later_steps() != 0 && !waits_steps(action.kind())) {
    problem(
        where, "later_steps",
        "later_steps is for KIND_COMPLETE_LATER and the *_OUTSIDE_CALLBACK misuses, not " + name);
  }
}

void Checks::policy(const Where& where,
                    const google::protobuf::RepeatedPtrField<proto::DriverRule>& rules,
                    const proto::DriverAction& default_action, const std::string& default_field) {
  for (int r = 0; r < rules.size(); ++r) {
    const Where rule = where.nested("rule", r);
    if (rules[r].percent() > 100) {
      problem(rule, "percent", "percent " + std::to_string(rules[r].percent()) + " is above 100");
    }
    action(rule.nested("action"), rules[r].action());
  }
  action(where.nested(default_field), default_action);
}

bool Checks::side(const Where& where, proto::Side side, const std::string& what) {
  if (side == proto::HOST || side == proto::GUEST || side == proto::ANY_SIDE) {
    return true;
  }
  problem(where, "side", what + " takes side: HOST or GUEST");
  return false;
}

void Checks::condition(const Where& where, const proto::Condition& condition) {
  match(where.nested("event"), condition.event());
}

std::optional<std::uint32_t> scenario_message_type(const std::string& text) {
  if (!text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c)) != 0;
      })) {
    if (text.size() > 3) {
      return std::nullopt;
    }
    const auto value = static_cast<std::uint32_t>(std::stoul(text));
    return value < wire::kMessageTypeCount ? std::optional(value) : std::nullopt;
  }
  const std::string wanted = text.rfind("CHANNELMSG_", 0) == 0 ? text : "CHANNELMSG_" + text;
  for (std::uint32_t type = 0; type < wire::kMessageTypeCount; ++type) {
    if (wire::message_type_name(type) == wanted) {
      return type;
    }
  }
  return std::nullopt;
}

namespace {

// What a VSP's EvtChannelOpened might fail with; the guest sees the value
// as its OPENCHANNEL_RESULT status.
constexpr std::pair<const char*, std::uint32_t> kOpenFailureStatuses[] = {
    {"STATUS_UNSUCCESSFUL", 0xC0000001},
    {"STATUS_INSUFFICIENT_RESOURCES", 0xC000009A},
    {"STATUS_NOT_SUPPORTED", 0xC00000BB},
    {"STATUS_DEVICE_REMOVED", 0xC00002B6},
};

}  // namespace

std::optional<std::uint32_t> open_failure_status(const std::string& name) {
  for (const auto& [known, value] : kOpenFailureStatuses) {
    if (name == known) {
      return value;
    }
  }
  return std::nullopt;
}

std::string open_failure_status_names() {
  std::string names;
  for (const auto& [known, value] : kOpenFailureStatuses) {
    names += std::string(names.empty() ? "" : ", ") + known;
  }
  return names;
}

}  // namespace vmbus::runner
