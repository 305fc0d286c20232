// Checking a scenario file: where a field sits in the file, and the checks
// every part of a file shares (a channel name, a payload, a condition).
// load.cc walks the file with them; each timeline action's row in
// actions.cc checks its own fields with them. Every problem carries the line
// and column of the field it is about.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <google/protobuf/text_format.h>

#include "vmbus/proto/scenario.pb.h"
#include "vmbus/runner/scenario.h"

namespace vmbus::runner {

// A position in the parsed file: the parse-info tree of one message, with a
// fallback location for fields the file does not write.
class Where {
 public:
  Where(const google::protobuf::TextFormat::ParseInfoTree* tree,
        const google::protobuf::Descriptor* descriptor, int line, int column)
      : tree_(tree), descriptor_(descriptor), line_(line), column_(column) {}

  // The location of `field` (element `index` if repeated), or of this message.
  std::pair<int, int> at(const std::string& field, int index = -1) const;

  // The message in `field` (element `index` if repeated).
  Where nested(const std::string& field, int index = -1) const;

 private:
  const google::protobuf::TextFormat::ParseInfoTree* tree_;
  const google::protobuf::Descriptor* descriptor_;
  int line_;
  int column_;
};

// The checks shared by every part of a file, and the problems they found.
class Checks {
 public:
  Checks(std::string file, std::vector<ScenarioProblem>& problems)
      : file_(std::move(file)), problems_(problems) {}

  void problem(const Where& where, const std::string& field, int index, const std::string& text);
  void problem(const Where& where, const std::string& field, const std::string& text) {
    problem(where, field, -1, text);
  }

  // The topology declares `name`; false when it already had it.
  bool add_channel(const std::string& name) { return channels_.insert(name).second; }
  // Channel `name` has subchannels that wait for an offer_subchannels action.
  void add_subchannels_on_request(const std::string& name) { on_request_.insert(name); }
  bool has_channel(const std::string& name) const { return channels_.count(name) != 0; }
  bool subchannels_on_request(const std::string& name) const {
    return on_request_.count(name) != 0;
  }
  // A driver library (`library`, as written) runs `side`'s end of `channel`.
  void add_loaded_driver(const std::string& channel, proto::Side side, const std::string& library) {
    loaded_[{channel, side}] = library;
  }
  // The library that runs `side`'s end of `channel` (ANY_SIDE: the guest),
  // or nullptr for the scripted driver.
  const std::string* loaded_driver(const std::string& channel, proto::Side side) const;
  bool any_loaded_driver(proto::Side side) const;
  // `where`'s field `field` asks `side`'s driver on `channel` for `what`,
  // which only the scripted driver does (its sends, its policy, its
  // outstanding packets): a problem if a library runs that end.
  void scripted_only(const Where& where, const std::string& field, const std::string& channel,
                     proto::Side side, const std::string& what);
  // `where`'s field `channel` names a channel of the topology (or is empty
  // where that is allowed).
  void channel(const Where& where, const std::string& name, bool required = true);
  // `where`'s field `field` is a payload the runner can turn into bytes.
  void payload(const Where& where, const std::string& field, const proto::Payload& payload);
  // `where`'s child_relid, which only the runner may set, is unset.
  void runner_field(const Where& where, std::uint32_t value);
  // A driver policy's rules (`where`'s field "rule") and its default action
  // (field `default_field`): percentages, known action kinds, and no field
  // the action cannot use.
  void policy(const Where& where,
              const google::protobuf::RepeatedPtrField<proto::DriverRule>& rules,
              const proto::DriverAction& default_action, const std::string& default_field);
  // A driver action: a known kind, and no field that kind cannot use.
  void action(const Where& where, const proto::DriverAction& action);
  // `where`'s field "side" names the host or the guest (or is unset where
  // that is allowed); false with a problem otherwise.
  bool side(const Where& where, proto::Side side, const std::string& what);
  // A condition's event is a trace match (below).
  void condition(const Where& where, const proto::Condition& condition);
  // A trace match names a kind of record, and only values that record kind
  // can have (trace_match.cc).
  void match(const Where& where, const proto::TraceMatch& match);

  // The simulated time a run may take (the file's limit or the default).
  std::uint64_t limit_us() const { return limit_us_; }
  void set_limit_us(std::uint64_t limit_us) { limit_us_ = limit_us; }
  // The guest's VPs (the topology's guest_vps; 1 when unset).
  std::uint32_t guest_vps() const { return guest_vps_; }
  void set_guest_vps(std::uint32_t guest_vps) { guest_vps_ = guest_vps; }
  // `where`'s field `field` names VP `vp`, which must be below guest_vps().
  void vp(const Where& where, const std::string& field, std::uint32_t vp);
  // A signal match's VP, if it names one, is one of the guest's several.
  void signal_vp(const Where& where, const proto::SignalMatch& signal);

 private:
  std::string file_;
  std::vector<ScenarioProblem>& problems_;
  std::set<std::string> channels_;
  std::set<std::string> on_request_;
  std::map<std::pair<std::string, proto::Side>, std::string> loaded_;
  std::uint64_t limit_us_ = 1'000'000;
  std::uint32_t guest_vps_ = 1;
};

// A message name ("OPENCHANNEL_RESULT", "CHANNELMSG_OFFERCHANNEL", a number)
// as its CHANNELMSG type, or nullopt.
std::optional<std::uint32_t> scenario_message_type(const std::string& text);

// The failure statuses a driver's EvtChannelOpened may be given to return
// (DriverPolicy.opened_status), by name, as NTSTATUS values.
std::optional<std::uint32_t> open_failure_status(const std::string& name);
// Their names, for a message that lists them.
std::string open_failure_status_names();

}  // namespace vmbus::runner
