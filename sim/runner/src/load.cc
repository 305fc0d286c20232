// Loading and checking scenario files: every problem is reported with the
// line and column of the field it is about, and a file with any problem
// never runs.
#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <tuple>
#include <variant>

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include "vmbus/base/quirks.h"
#include "vmbus/kmcl/device.h"
#include "vmbus/kmcl/driver_loader.h"
#include "vmbus/kmcl/verifier.h"
#include "vmbus/runner/scenario.h"
#include "vmbus/wire/guid.h"
#include "vmbus/wire/synic.h"
#include "vmbus/wire/versions.h"

#include "actions.h"
#include "check.h"
#include "internal.h"

namespace vmbus::runner {
namespace {

namespace fs = std::filesystem;
namespace pb = google::protobuf;

constexpr std::uint32_t kMaxRelid = 2047;
constexpr std::uint32_t kMaxRingPages = 256;
constexpr std::uint64_t kRingPageBytes = 4096;
constexpr std::uint32_t kMaxPacketSizeBytes = 256 * 1024;  // KMCL's limit
constexpr std::uint64_t kMaxTimeUs = 3'600'000'000ull;     // one simulated hour

// Every name KMCL gives a value of its state enum `State` (one byte wide),
// in the enum's order.
template <typename State>
std::vector<std::string> state_names(const char* (*name_of)(State)) {
  static_assert(sizeof(State) == 1);
  std::vector<std::string> names;
  for (int value = 0; value <= 0xFF; ++value) {
    const std::string name = name_of(static_cast<State>(value));
    if (name != "unknown") {
      names.push_back(name);
    }
  }
  return names;
}

// Expectations of one side's driver: unset means the guest's.
std::string side_key(proto::Side side) {
  return side == proto::HOST ? "host" : "guest";
}

std::string joined(const std::vector<std::string>& names) {
  std::string text;
  for (const std::string& name : names) {
    text += (text.empty() ? "" : ", ") + name;
  }
  return text;
}

// The values of every enum that a field called `field` has anywhere in the
// scenario language, in declaration order, without repeats ("stage" is
// a message's and a signal's).
std::vector<std::string> enum_values_of_field(const std::string& field) {
  std::vector<std::string> values;
  std::set<const pb::Descriptor*> seen;
  std::vector<const pb::Descriptor*> pending{proto::Scenario::descriptor()};
  while (!pending.empty()) {
    const pb::Descriptor* message = pending.back();
    pending.pop_back();
    if (!seen.insert(message).second) {
      continue;
    }
    for (int i = 0; i < message->field_count(); ++i) {
      const pb::FieldDescriptor* f = message->field(i);
      if (f->message_type() != nullptr) {
        pending.push_back(f->message_type());
      } else if (f->enum_type() != nullptr && f->name() == field) {
        for (int v = 0; v < f->enum_type()->value_count(); ++v) {
          const std::string& name = f->enum_type()->value(v)->name();
          if (std::find(values.begin(), values.end(), name) == values.end()) {
            values.push_back(name);
          }
        }
      }
    }
  }
  return values;
}

// The parser's words for an unknown enum value, with the values it could
// have been: 'Unknown enumeration value of "X" for field "f".'
std::string with_enum_values(const std::string& message) {
  const std::string marker = "\" for field \"";
  const std::size_t at = message.find(marker);
  if (message.rfind("Unknown enumeration value of \"", 0) != 0 || at == std::string::npos) {
    return message;
  }
  const std::size_t start = at + marker.size();
  const std::size_t end = message.find('"', start);
  const std::vector<std::string> values = enum_values_of_field(message.substr(start, end - start));
  if (end == std::string::npos || values.empty()) {
    return message;
  }
  std::string text = message;
  if (!text.empty() && text.back() == '.') {
    text.pop_back();
  }
  return text + " (one of: " + joined(values) + ")";
}

class Collector final : public pb::io::ErrorCollector {
 public:
  Collector(std::string file, std::vector<ScenarioProblem>& problems)
      : file_(std::move(file)), problems_(problems) {}
  void AddError(int line, pb::io::ColumnNumber column, const std::string& message) override {
    problems_.push_back(ScenarioProblem{file_, line + 1, column + 1, with_enum_values(message)});
  }
  void AddWarning(int line, pb::io::ColumnNumber column, const std::string& message) override {
    AddError(line, column, message);
  }

 private:
  std::string file_;
  std::vector<ScenarioProblem>& problems_;
};

// Where a scenario's driver libraries are looked for; none: they are kept
// as written and not loaded.
struct LibrarySearch {
  fs::path scenario_dir;
  std::vector<fs::path> driver_dirs;
};

// A driver library found on disk (its absolute path), for the channel and
// side that name it.
struct ResolvedLibrary {
  int channel = 0;
  bool host = false;
  std::string path;
};

// `written`, as the scenario names it: absolute as is; else in the
// scenario's folder, or (a name without a '/') in a driver dir. The path
// found, or why none is.
std::variant<fs::path, std::string> find_library(const std::string& written,
                                                 const LibrarySearch& search) {
  const fs::path path(written);
  if (path.is_absolute()) {
    return path;
  }
  std::vector<fs::path> candidates{search.scenario_dir / path};
  if (written.find('/') == std::string::npos) {
    for (const fs::path& dir : search.driver_dirs) {
      candidates.push_back(dir / path);
    }
  }
  std::error_code ignored;
  for (const fs::path& candidate : candidates) {
    if (fs::exists(candidate, ignored)) {
      return candidate.lexically_normal();
    }
  }
  std::string looked;
  for (const fs::path& candidate : candidates) {
    const std::string dir = candidate.parent_path().lexically_normal().string();
    looked += (looked.empty() ? "" : ", ") + (dir.empty() ? std::string(".") : dir);
  }
  return written + ": no such file (looked in " + looked + ")";
}

class Checker {
 public:
  Checker(LoadedScenario& loaded, const pb::TextFormat::ParseInfoTree& tree,
          const LibrarySearch* search)
      : s_(loaded.scenario),
        root_(&tree, proto::Scenario::descriptor(), 1, 1),
        checks_(loaded.display_path, loaded.problems),
        search_(search),
        loaded_(loaded) {
    checks_.set_limit_us(s_.time_limit_us() == 0 ? 1'000'000 : s_.time_limit_us());
    checks_.set_guest_vps(std::max<std::uint32_t>(1, s_.topology().guest_vps()));
  }

  // The libraries found, for the scenario to name by their absolute paths.
  const std::vector<ResolvedLibrary>& resolved() const { return resolved_; }

  void run() {
    check_metadata();
    check_quirks();
    check_topology();
    check_timeline();
    check_expectations();
    check_pins();
  }

 private:
  void problem(const Where& where, const std::string& field, int index, const std::string& text) {
    checks_.problem(where, field, index, text);
  }
  void problem(const Where& where, const std::string& field, const std::string& text) {
    checks_.problem(where, field, text);
  }

  void check_metadata() {
    if (s_.name().empty()) {
      problem(root_, "name", "the scenario has no name");
    } else if (s_.name().find_first_of(" /\\\t\n") != std::string::npos) {
      problem(root_, "name", "name '" + s_.name() + "' must not contain spaces or slashes");
    }
    if (s_.time_limit_us() > kMaxTimeUs) {
      problem(
          root_, "time_limit_us",
          "time_limit_us " + std::to_string(s_.time_limit_us()) + " is above one simulated hour");
    }
  }

  // Pins: steps in increasing order within bounds, each naming a context
  // of a partition ("guest:kmcl/1/dpc/1"). Whether the context is ready at
  // its step only the run can tell.
  void check_pins() {
    constexpr std::uint64_t kMaxPinnedStep = 100'000'000;
    constexpr int kMaxPins = 10'000;
    if (s_.pin_size() > kMaxPins) {
      problem(root_, "pin", kMaxPins,
              std::to_string(s_.pin_size()) + " pins; at most " + std::to_string(kMaxPins));
      return;
    }
    std::uint64_t previous = 0;
    for (int i = 0; i < s_.pin_size(); ++i) {
      const proto::PinnedStep& pin = s_.pin(i);
      const Where where = root_.nested("pin", i);
      if (pin.step() == 0 || pin.step() > kMaxPinnedStep) {
        problem(where, "step",
                "pin step " + std::to_string(pin.step()) + " is outside 1.." +
                    std::to_string(kMaxPinnedStep));
      } else if (pin.step() <= previous) {
        problem(where, "step",
                "pin step " + std::to_string(pin.step()) + " does not come after step " +
                    std::to_string(previous) + " (pins go in increasing step order)");
      }
      previous = std::max(previous, pin.step());
      const std::size_t colon = pin.context().find(':');
      const std::string side = pin.context().substr(0, colon);
      if (colon == std::string::npos || (side != "host" && side != "guest") ||
          colon + 1 == pin.context().size()) {
        problem(where, "context",
                "pin context '" + pin.context() +
                    "' is not '<partition>:<context>' with partition host or guest "
                    "(as the trace names it: \"guest:kmcl/1/dpc/1\")");
      }
    }
  }

  static bool known_version(const std::string& text) {
    for (std::uint32_t v : wire::kKnownVersions) {
      if (wire::version_number_text(v) == text) {
        return true;
      }
    }
    return false;
  }

  void check_version(const Where& where, const std::string& field, const std::string& text) {
    if (!text.empty() && !known_version(text)) {
      problem(where, field,
              "unknown protocol version '" + text +
                  "' (known: 5.3 5.2 5.1 5.0 4.1 4.0 3.0 2.4 "
                  "1.1 0.13)");
    }
  }

  void check_topology() {
    const Where topology = root_.nested("topology");
    check_version(topology, "host_max_version", s_.topology().host_max_version());
    check_version(topology, "guest_max_version", s_.topology().guest_max_version());
    if (s_.topology().channel_size() == 0) {
      problem(root_, "topology", "the topology has no channel");
    }
    std::set<std::uint32_t> relids;
    std::uint32_t next_relid = 1;
    for (int i = 0; i < s_.topology().channel_size(); ++i) {
      const proto::ChannelSpec& channel = s_.topology().channel(i);
      const Where where = topology.nested("channel", i);
      if (channel.name().empty()) {
        problem(topology, "channel", i, "channel " + std::to_string(i + 1) + " has no name");
      } else if (!checks_.add_channel(channel.name())) {
        problem(where, "name", "channel name '" + channel.name() + "' is used twice");
      }
      std::uint32_t relid = channel.relid();
      if (relid == 0) {
        while (relids.count(next_relid) != 0) {
          ++next_relid;
        }
        relid = next_relid;
      }
      if (relid > kMaxRelid) {
        problem(where, "relid", "relid " + std::to_string(relid) + " is outside 1..2047");
      } else if (!relids.insert(relid).second) {
        problem(where, "relid", "relid " + std::to_string(relid) + " is used twice");
      }
      if (channel.ring_pages() == 1 || channel.ring_pages() > kMaxRingPages) {
        problem(where, "ring_pages",
                "ring_pages " + std::to_string(channel.ring_pages()) +
                    " must be 2..256 (the control page plus at least one data page)");
      }
      if (!channel.interface_guid().empty() && channel.interface_guid().size() != 36) {
        problem(where, "interface_guid",
                "interface_guid '" + channel.interface_guid() +
                    "' is not a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)");
      }
      check_instance_after_unload(channel, relid, where);
      check_drivers(channel, where);
      check_ring_image(channel, i, where);
      check_loaded_driver(channel, i, where, false);
      check_loaded_driver(channel, i, where, true);
      check_subchannels(channel, where);
      checks_.vp(where, "target_vp", channel.target_vp());
    }
    check_subchannel_relids(topology);
    if (s_.topology().guest_resume_timeout_us() > checks_.limit_us()) {
      problem(topology, "guest_resume_timeout_us",
              "guest_resume_timeout_us " + std::to_string(s_.topology().guest_resume_timeout_us()) +
                  " is longer than the time limit of " + std::to_string(checks_.limit_us()) +
                  " us");
    }
    if (s_.topology().guest_vps() > wire::kMaxSimulatedGuestVps) {
      problem(topology, "guest_vps",
              "guest_vps " + std::to_string(s_.topology().guest_vps()) + " is outside 1.." +
                  std::to_string(wire::kMaxSimulatedGuestVps));
    }
    if (s_.topology().host_unstick_delay_us() > checks_.limit_us()) {
      problem(topology, "host_unstick_delay_us",
              "host_unstick_delay_us " + std::to_string(s_.topology().host_unstick_delay_us()) +
                  " is longer than the time limit of " + std::to_string(checks_.limit_us()) +
                  " us");
    }
  }

  // The instance GUID a channel is offered with after the guest unloads: a
  // GUID, and another than the one it has.
  void check_instance_after_unload(const proto::ChannelSpec& channel, std::uint32_t relid,
                                   const Where& where) {
    const std::string& guid = channel.instance_guid_after_unload();
    if (guid.empty()) {
      return;
    }
    if (guid.size() != 36 || !wire::Guid::parse(guid).ok()) {
      problem(where, "instance_guid_after_unload",
              "instance_guid_after_unload '" + guid +
                  "' is not a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)");
    } else if (wire::Guid::parse(guid).value() ==
               wire::Guid::parse(instance_guid_of(relid)).value()) {
      problem(where, "instance_guid_after_unload",
              "instance_guid_after_unload '" + guid + "' is the channel's own instance GUID");
    }
  }

  // Subchannels: 0..16 of them, named "<name>/<index>" (no clash with
  // another channel's name), waiting for a request only if there are any.
  void check_subchannels(const proto::ChannelSpec& channel, const Where& where) {
    constexpr std::uint32_t kMaxSubchannels = 16;
    if (channel.subchannels() > kMaxSubchannels) {
      problem(where, "subchannels",
              "subchannels " + std::to_string(channel.subchannels()) + " is outside 0..16");
      return;
    }
    if (channel.subchannels_on_request()) {
      if (channel.subchannels() == 0) {
        problem(where, "subchannels_on_request",
                "subchannels_on_request needs subchannels (how many the host offers)");
      }
      checks_.add_subchannels_on_request(channel.name());
    }
    for (std::uint32_t k = 1; k <= channel.subchannels(); ++k) {
      const std::string name = subchannel_name(channel.name(), k);
      if (!channel.name().empty() && !checks_.add_channel(name)) {
        problem(where, "subchannels", "subchannel name '" + name + "' is already a channel's name");
      }
    }
  }

  // The relids subchannels get (after every channel's own) stay in range.
  void check_subchannel_relids(const Where& topology) {
    const auto relids = assign_subchannel_relids(s_.topology());
    for (int i = 0; i < s_.topology().channel_size(); ++i) {
      const auto& mine = relids[static_cast<std::size_t>(i)];
      if (!mine.empty() && mine.back() > kMaxRelid) {
        problem(topology.nested("channel", i), "subchannels",
                "subchannel relid " + std::to_string(mine.back()) + " would be outside 1..2047");
      }
    }
  }

  // The ring image a channel starts from: a file (relative to the scenario's
  // folder) of exactly the channel's ring size whose indices lie inside its
  // data area, 8-byte aligned. Kept for the compiler.
  void check_ring_image(const proto::ChannelSpec& channel, int index, const Where& where) {
    if (channel.inbound_ring_image().empty()) {
      return;
    }
    fs::path path = channel.inbound_ring_image();
    if (path.is_relative() && search_ != nullptr) {
      path = search_->scenario_dir / path;
    }
    std::ifstream in(path, std::ios::binary);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    if (!in) {
      problem(where, "inbound_ring_image", "cannot read ring image " + path.string());
      return;
    }
    const std::string image = bytes.str();
    const std::uint64_t pages =
        channel.ring_pages() == 0 ? kDefaultRingPages : channel.ring_pages();
    const std::string name = "ring image " + path.string();
    if (image.size() != pages * kRingPageBytes) {
      problem(where, "inbound_ring_image",
              name + " is " + std::to_string(image.size()) + " bytes; the channel's ring is " +
                  std::to_string(pages) + " pages (" + std::to_string(pages * kRingPageBytes) +
                  " bytes, control page included)");
      return;
    }
    const std::uint64_t data_size = image.size() - kRingPageBytes;
    for (const auto& [offset, index_name] :
         {std::pair(0, "write_index"), std::pair(4, "read_index")}) {
      std::uint32_t value = 0;
      for (int b = 3; b >= 0; --b) {
        value =
            value << 8 | static_cast<unsigned char>(image[static_cast<std::size_t>(offset + b)]);
      }
      if (value >= data_size || value % 8 != 0) {
        problem(where, "inbound_ring_image",
                name + ": " + index_name + " " + std::to_string(value) +
                    " is not an 8-byte aligned offset inside its " + std::to_string(data_size) +
                    "-byte data area");
        return;
      }
    }
    loaded_.ring_images[index] = image;
  }

  // A user's driver (library): none of the scripted driver's policy or KMCL
  // options beside it, and a library that loads.
  void check_loaded_driver(const proto::ChannelSpec& channel, int index, const Where& where,
                           bool host) {
    const std::string field = host ? "host_driver" : "guest_driver";
    const proto::DriverPolicy& policy = host ? channel.host_driver() : channel.guest_driver();
    const Where w = where.nested(field);
    if (policy.library().empty()) {
      if (!policy.args().empty()) {
        problem(w, "args", "args are a driver library's; name the library too");
      }
      return;
    }
    checks_.add_loaded_driver(channel.name(), host ? proto::HOST : proto::GUEST, policy.library());
    const std::string why = " is the scripted driver's; a driver library makes its own KMCL calls";
    for (const auto& [name, set] : {std::pair<const char*, bool>{"rule", policy.rule_size() != 0},
                                    {"default_action", policy.has_default_action()},
                                    {"max_packet_size", policy.has_max_packet_size()},
                                    {"quota", policy.has_quota()},
                                    {"require_passive", policy.has_require_passive()}}) {
      if (set) {
        problem(w, name, std::string(name) + why);
      }
    }
    if (!host) {
      for (const auto& [name, set] :
           {std::pair<const char*, bool>{"max_packet_size", channel.max_packet_size() != 0},
            {"quota", channel.quota() != 0},
            {"require_passive", channel.require_passive()}}) {
        if (set) {
          problem(where, name,
                  std::string(name) + " is the guest driver's KMCL call; " +
                      "guest_driver's library makes its own");
        }
      }
    } else if (channel.has_host_vsp()) {
      problem(where, "host_vsp",
              "host_vsp chooses a scripted VSP; with host_driver's library, the library is the "
              "VSP");
    }
    check_library(w, policy.library(), field, index, host);
  }

  void check_library(const Where& where, const std::string& written, const std::string& field,
                     int index, bool host) {
    if (search_ == nullptr) {
      return;
    }
    auto found = find_library(written, *search_);
    if (const auto* missing = std::get_if<std::string>(&found)) {
      problem(where, "library", field + " library " + *missing);
      return;
    }
    const fs::path path = std::get<fs::path>(found);
    auto loaded = kmcl::load_driver(path.string());
    if (const auto* error = std::get_if<kmcl::DriverLoadError>(&loaded)) {
      problem(where, "library", field + " library " + error->message);
      return;
    }
    std::error_code ignored;
    resolved_.push_back(ResolvedLibrary{index, host, fs::absolute(path, ignored).string()});
  }

  // Both drivers' policies and options; an option of the guest's driver is
  // written once, on the channel or in guest_driver.
  void check_drivers(const proto::ChannelSpec& channel, const Where& where) {
    for (const char* field : {"guest_driver", "host_driver"}) {
      const proto::DriverPolicy& policy =
          std::string(field) == "guest_driver" ? channel.guest_driver() : channel.host_driver();
      const Where w = where.nested(field);
      checks_.policy(w, policy.rule(), policy.default_action(), "default_action");
      check_driver_options(w, policy);
      check_opened_status(w, policy, std::string(field) == "host_driver");
    }
    const proto::DriverPolicy& guest = channel.guest_driver();
    for (const auto& [field, in_policy, on_channel] :
         {std::tuple<const char*, bool, bool>{"max_packet_size", guest.has_max_packet_size(),
                                              channel.max_packet_size() != 0},
          {"quota", guest.has_quota(), channel.quota() != 0},
          {"require_passive", guest.has_require_passive(), channel.require_passive()},
          {"escalate_fail_to_close", guest.has_escalate_fail_to_close(),
           channel.escalate_fail_to_close()},
          {"external_data_latency_steps", guest.has_external_data_latency_steps(),
           channel.external_data_latency_steps() != 0},
          {"defer_livelock_limit", guest.has_defer_livelock_limit(),
           channel.defer_livelock_limit() != 0}}) {
      if (in_policy && on_channel) {
        problem(where.nested("guest_driver"), field,
                std::string(field) + " is set on the channel too (line " +
                    std::to_string(where.at(field).first) + "); write it once");
      }
    }
  }

  // Values KMCL would refuse: a maximum packet size outside 1..256 KiB, a
  // quota of 0.
  void check_driver_options(const Where& where, const proto::DriverPolicy& policy) {
    if (policy.has_max_packet_size() &&
        (policy.max_packet_size() == 0 || policy.max_packet_size() > kMaxPacketSizeBytes)) {
      problem(where, "max_packet_size",
              "max_packet_size " + std::to_string(policy.max_packet_size()) +
                  " is outside 1..262144 (VmbChannelInitSetMaximumPacketSize)");
    }
    if (policy.has_quota() && policy.quota() == 0) {
      problem(where, "quota", "quota 0 is an invalid parameter to KMCL; leave it out for none");
    }
  }

  // A failed EvtChannelOpened: a known failure, of the scripted VSP (the
  // guest's open failing is the host's answer, not its driver's).
  void check_opened_status(const Where& where, const proto::DriverPolicy& policy, bool host) {
    if (policy.opened_status().empty()) {
      return;
    }
    if (!host) {
      problem(where, "opened_status",
              "opened_status is the host VSP's (host_driver): the host answers the guest's "
              "OPENCHANNEL with it");
    } else if (!open_failure_status(policy.opened_status())) {
      problem(where, "opened_status",
              "opened_status '" + policy.opened_status() + "' is not one of " +
                  open_failure_status_names());
    } else if (!policy.library().empty()) {
      problem(where, "opened_status",
              "opened_status is the scripted driver's; a library returns its own");
    }
  }

  void check_timeline() {
    for (int i = 0; i < s_.step_size(); ++i) {
      const proto::TimelineEntry& entry = s_.step(i);
      const Where where = root_.nested("step", i);
      check_time(entry, where, i + 1);
      if (const ActionRow* row = find_action(entry.action_case())) {
        row->check(entry, where.nested(std::string(row->name)), checks_);
      }
    }
  }

  // When entry `number` runs: within the time limit, and never before an
  // earlier entry's absolute time (entries run in file order).
  void check_time(const proto::TimelineEntry& entry, const Where& where, int number) {
    const std::string words = "step " + std::to_string(number);
    if (entry.time_case() == proto::TimelineEntry::kAtUs) {
      if (entry.at_us() > checks_.limit_us()) {
        problem(where, "at_us",
                words + " at " + std::to_string(entry.at_us()) + " us is after the time limit of " +
                    std::to_string(checks_.limit_us()) + " us");
      }
      if (last_at_number_ != 0 && entry.at_us() < last_at_us_) {
        problem(where, "at_us",
                words + " at " + std::to_string(entry.at_us()) + " us comes before step " +
                    std::to_string(last_at_number_) + " at " + std::to_string(last_at_us_) +
                    " us; steps run in file order");
      }
      last_at_us_ = entry.at_us();
      last_at_number_ = number;
    }
    if (entry.time_case() == proto::TimelineEntry::kAfterUs &&
        entry.after_us() > checks_.limit_us()) {
      problem(where, "after_us", words + " waits longer than the time limit");
    }
    if (entry.time_case() == proto::TimelineEntry::kWhen) {
      checks_.condition(where.nested("when"), entry.when());
    }
  }

  // Registry names, each allowed on the endpoint that names it; a guest
  // quirk is in guest_quirks or guest_quirks_always, not both.
  void check_quirks() {
    const std::set<std::string> guest_modal(s_.guest_quirks().begin(), s_.guest_quirks().end());
    for (const auto& [field, names, endpoint] :
         {std::tuple{"guest_quirks", &s_.guest_quirks(), base::kQuirkGuest},
          std::tuple{"host_quirks", &s_.host_quirks(), base::kQuirkHost},
          std::tuple{"guest_quirks_always", &s_.guest_quirks_always(), base::kQuirkGuest}}) {
      const bool always = std::string_view(field) == "guest_quirks_always";
      std::set<std::string> seen = always ? guest_modal : std::set<std::string>{};
      for (int i = 0; i < names->size(); ++i) {
        std::string error;
        const std::string& name = names->Get(i);
        if (!base::QuirkSet::parse(std::vector<std::string>{name}, endpoint, &error)) {
          problem(root_, field, i, error);
        } else if (!seen.insert(name).second) {
          problem(root_, field, i,
                  "quirk '" + name + "' is listed twice" +
                      (always && guest_modal.count(name) != 0 ? " (also in guest_quirks)" : ""));
        }
      }
    }
  }

  // The expectations of both modes: the common ones, each mode's own block,
  // and each mode's whole (a crash outcome in one block and a counter in
  // the other contradict only there).
  void check_expectations() {
    const Where expect = root_.nested("expect");
    check_expectations(expect, s_.expect());
    const bool has_quirks = s_.guest_quirks_size() != 0 || s_.host_quirks_size() != 0;
    for (const auto& [field, quirks_on] :
         {std::pair{"with_quirks", true}, std::pair{"without_quirks", false}}) {
      const proto::Expectations& mode =
          quirks_on ? s_.expect().with_quirks() : s_.expect().without_quirks();
      if (!(quirks_on ? s_.expect().has_with_quirks() : s_.expect().has_without_quirks())) {
        continue;
      }
      const Where w = expect.nested(field);
      if (!has_quirks) {
        problem(
            expect, field,
            std::string(field) + " applies only to a scenario with guest_quirks or host_quirks");
      }
      if (mode.has_with_quirks() || mode.has_without_quirks()) {
        problem(expect, field, std::string(field) + " cannot hold another mode's expectations");
      }
      check_expectations(w, mode);
      check_outcome(w, expectations_for_mode(s_.expect(), quirks_on));
    }
  }

  void check_expectations(const Where& expect, const proto::Expectations& e) {
    check_version(expect, "negotiated_version", e.negotiated_version());
    check_callbacks(expect, e);
    check_states(expect, e);
    check_counters(expect, e);
    check_completions(expect, e);
    check_violations(expect, e);
    check_oracles(expect, e);
    check_trace(expect, e);
    check_outcome(expect, e);
    check_driver_crash(expect, e);
  }

  // A crash of a driver library that runs: on that side (and channel), in a
  // callback drivers have.
  void check_driver_crash(const Where& expect, const proto::Expectations& e) {
    if (!e.has_driver_crash()) {
      return;
    }
    const proto::DriverCrashExpectation& crash = e.driver_crash();
    const Where w = expect.nested("driver_crash");
    if (crash.side() != proto::HOST && crash.side() != proto::GUEST) {
      problem(w, "side", "driver_crash needs side: HOST or GUEST (whose driver)");
    } else if (!crash.channel().empty()) {
      checks_.channel(w, crash.channel());
      if (checks_.loaded_driver(crash.channel(), crash.side()) == nullptr) {
        problem(w, "channel",
                "the " + side_key(crash.side()) + " end of '" + crash.channel() +
                    "' runs the scripted driver; only a driver library can crash");
      }
    } else if (!checks_.any_loaded_driver(crash.side())) {
      problem(w, "side",
              "no " + side_key(crash.side()) +
                  " driver of this scenario is a library; only a "
                  "driver library can crash");
    }
    const auto& names = driver_callback_names();
    if (!crash.callback().empty() &&
        std::find(names.begin(), names.end(), crash.callback()) == names.end()) {
      problem(w, "callback",
              "unknown driver callback '" + crash.callback() + "' (" + joined(names) + ")");
    }
    if (e.outcome() != proto::Expectations::COMPLETED) {
      problem(expect, "outcome", "a run ends once: outcome and driver_crash contradict");
    }
    if (e.callbacks_size() != 0 || e.state_size() != 0 || e.counter_size() != 0 ||
        !e.negotiated_version().empty()) {
      problem(w, "side",
              "a run expected to end in a driver crash has no final state: callbacks, state, "
              "counter and negotiated_version expectations cannot be checked");
    }
  }

  // Each call names its IRQL; two lists for one channel and filter contradict.
  void check_callbacks(const Where& expect, const proto::Expectations& e) {
    std::set<std::string> seen_callbacks;
    for (int i = 0; i < e.callbacks_size(); ++i) {
      const Where w = expect.nested("callbacks", i);
      checks_.channel(w, e.callbacks(i).channel());
      checks_.side(w, e.callbacks(i).side(), "callbacks");
      for (int c = 0; c < e.callbacks(i).call_size(); ++c) {
        const std::string& call = e.callbacks(i).call(c);
        if (call.find(" PASSIVE") == std::string::npos &&
            call.find(" DISPATCH") == std::string::npos) {
          problem(w, "call", c,
                  "callback '" + call +
                      "' names no IRQL; write \"<callback> [#<packet>] "
                      "PASSIVE|DISPATCH [<action>]\", e.g. \"ProcessPacket #0 DISPATCH complete\"");
        }
      }
      std::string key = e.callbacks(i).channel() + "|" + side_key(e.callbacks(i).side());
      for (const std::string& only : e.callbacks(i).only()) {
        key += "|" + only;
      }
      if (!seen_callbacks.insert(key).second) {
        problem(expect, "callbacks", i,
                "a second callbacks expectation for channel '" + e.callbacks(i).channel() +
                    "' with the same side and filter contradicts the first");
      }
    }
  }

  // Known state names; two different states for one channel contradict.
  void check_states(const Where& expect, const proto::Expectations& e) {
    std::map<std::string, std::pair<std::string, int>> states;
    for (int i = 0; i < e.state_size(); ++i) {
      const proto::StateExpectation& state = e.state(i);
      const Where w = expect.nested("state", i);
      checks_.channel(w, state.channel());
      checks_.side(w, state.side(), "state");
      static const std::vector<std::string> kChannelStates =
          state_names<kmcl::ChannelState>(kmcl::channel_state_name);
      static const std::vector<std::string> kQueueStates =
          state_names<kmcl::QueueState>(kmcl::queue_state_name);
      for (const auto& [field, value, names] :
           {std::tuple<std::string, std::string, const std::vector<std::string>*>{
                "channel_state", state.channel_state(), &kChannelStates},
            {"queue_state", state.queue_state(), &kQueueStates}}) {
        if (!value.empty() && std::find(names->begin(), names->end(), value) == names->end()) {
          problem(w, field, "unknown " + field + " '" + value + "' (" + joined(*names) + ")");
        }
      }
      const std::string value = state.channel_state() + "/" + state.queue_state();
      const auto [it, inserted] =
          states.emplace(state.channel() + "|" + side_key(state.side()), std::make_pair(value, i));
      if (!inserted && it->second.first != value) {
        problem(w, "channel",
                "a second state expectation for channel '" + state.channel() +
                    "' contradicts the one at line " +
                    std::to_string(expect.at("state", it->second.second).first));
      }
    }
  }

  // Known counter names; two different values for one counter contradict.
  void check_counters(const Where& expect, const proto::Expectations& e) {
    std::map<std::string, std::pair<std::uint64_t, int>> counters;
    const auto& names = scenario_counter_names();
    for (int i = 0; i < e.counter_size(); ++i) {
      const proto::CounterExpectation& counter = e.counter(i);
      const Where w = expect.nested("counter", i);
      checks_.channel(w, counter.channel());
      if (checks_.side(w, counter.side(), "counter")) {
        if (std::string why = counter_side_problem(counter.name(), counter.side()); !why.empty()) {
          problem(w, "side", why);
        }
      }
      if (std::find(names.begin(), names.end(), counter.name()) == names.end()) {
        std::string known;
        for (const std::string& n : names) {
          known += (known.empty() ? "" : " ") + n;
        }
        problem(w, "name", "unknown counter '" + counter.name() + "' (known: " + known + ")");
      }
      const std::string key =
          counter.channel() + "/" + counter.name() + "/" + side_key(counter.side());
      const auto [it, inserted] = counters.emplace(key, std::make_pair(counter.value(), i));
      if (!inserted && it->second.first != counter.value()) {
        problem(w, "value",
                "counter " + counter.name() + " of channel '" + counter.channel() +
                    "' is expected to be " + std::to_string(counter.value()) + " here but " +
                    std::to_string(it->second.first) + " at line " +
                    std::to_string(expect.nested("counter", it->second.second).at("value").first));
      }
    }
  }

  void check_completions(const Where& expect, const proto::Expectations& e) {
    for (int i = 0; i < e.completions_size(); ++i) {
      const Where w = expect.nested("completions", i);
      checks_.channel(w, e.completions(i).channel());
      if (e.completions(i).side() != proto::HOST && e.completions(i).side() != proto::GUEST) {
        problem(w, "side", "completions need side: HOST or GUEST (whose sends)");
      }
    }
  }

  void check_violations(const Where& expect, const proto::Expectations& e) {
    std::set<std::string> codes;
    for (std::size_t c = 0; c < kmcl::kViolationCodeCount; ++c) {
      codes.insert(kmcl::violation_code_name(static_cast<kmcl::ViolationCode>(c)));
    }
    for (int i = 0; i < e.violation_size(); ++i) {
      const Where w = expect.nested("violation", i);
      if (codes.count(e.violation(i).code()) == 0) {
        problem(w, "code",
                "unknown verifier code '" + e.violation(i).code() +
                    "' (docs/KMCL-SEMANTICS.md lists them)");
      }
      checks_.channel(w, e.violation(i).channel(), false);
      checks_.side(w, e.violation(i).side(), "violation");
    }
  }

  void check_oracles(const Where& expect, const proto::Expectations& e) {
    const auto& oracles = scenario_oracle_names();
    for (int i = 0; i < e.oracle_size(); ++i) {
      const Where w = expect.nested("oracle", i);
      if (std::find(oracles.begin(), oracles.end(), e.oracle(i).name()) == oracles.end()) {
        problem(w, "name",
                "unknown oracle '" + e.oracle(i).name() +
                    "' (lost_wakeup, spurious_signal, retired_once, fifo, leak, rescind_order, "
                    "resume_hang)");
      }
      checks_.channel(w, e.oracle(i).channel(), false);
    }
  }

  void check_trace(const Where& expect, const proto::Expectations& e) {
    for (int i = 0; i < e.trace_size(); ++i) {
      const proto::TraceExpectation& t = e.trace(i);
      const Where w = expect.nested("trace", i);
      checks_.match(w.nested("event"), t.event());
      if (t.has_after()) {
        checks_.match(w.nested("after"), t.after());
      }
      if (t.absent() && t.count() != 0) {
        problem(w, "absent", "absent contradicts count " + std::to_string(t.count()));
      }
    }
  }

  // A crash leaves no final report to check.
  void check_outcome(const Where& expect, const proto::Expectations& e) {
    if (e.outcome() != proto::Expectations::COMPLETED &&
        (e.callbacks_size() != 0 || e.state_size() != 0 || e.counter_size() != 0 ||
         !e.negotiated_version().empty())) {
      problem(expect, "outcome",
              "a run expected to end in a crash has no final state: callbacks, state, "
              "counter and negotiated_version expectations cannot be checked");
    }
  }

 private:
  const proto::Scenario& s_;
  Where root_;
  Checks checks_;
  const LibrarySearch* search_;
  LoadedScenario& loaded_;
  std::vector<ResolvedLibrary> resolved_;
  std::uint64_t last_at_us_ = 0;  // the latest entry with an absolute time
  int last_at_number_ = 0;
};

}  // namespace

std::string ScenarioProblem::to_string() const {
  if (line <= 0) {
    return file + ": " + message;
  }
  return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message;
}

const std::vector<std::string>& driver_callback_names() {
  static const std::vector<std::string> kNames = {kmcl::kDriverEntryName,
                                                  "EvtChannelOpened",
                                                  "EvtChannelStarted",
                                                  "EvtChannelPostStarted",
                                                  "EvtChannelSuspend",
                                                  "EvtChannelClosed",
                                                  "EvtVmbChannelProcessPacket",
                                                  "EvtVmbChannelProcessingComplete",
                                                  "EvtVmbPacketCompletionRoutine"};
  return kNames;
}

const std::vector<std::string>& scenario_oracle_names() {
  static const std::vector<std::string> kNames = {
      "lost_wakeup", "spurious_signal", "retired_once", "fifo",
      "leak",        "rescind_order",   "resume_hang"};
  return kNames;
}

namespace {

// Protobuf's tokenizer counts a tab as reaching the next multiple of 8 in
// its columns; an editor, a terminal and a reader of "file:line:col" count
// bytes. Turns the tokenizer's 1-based column on `line` into a 1-based
// byte column, at most one past the end of that line.
int byte_column(const std::string& text, int line, int column) {
  std::size_t at = 0;
  for (int l = 1; l < line && at != std::string::npos; ++l) {
    at = text.find('\n', at);
    at = at == std::string::npos ? at : at + 1;
  }
  if (at == std::string::npos) {
    return column;
  }
  int expanded = 0;
  int bytes = 0;
  while (expanded < column - 1 && at < text.size() && text[at] != '\n') {
    expanded = text[at] == '\t' ? expanded + 8 - expanded % 8 : expanded + 1;
    ++bytes;
    ++at;
  }
  return bytes + 1;
}

LoadedScenario parse_and_check(const std::string& text, const std::string& display_path,
                               const LibrarySearch* search) {
  LoadedScenario loaded;
  loaded.display_path = display_path;
  Collector collector(display_path, loaded.problems);
  pb::TextFormat::Parser parser;
  parser.RecordErrorsTo(&collector);
  pb::TextFormat::ParseInfoTree tree;
  parser.WriteLocationsTo(&tree);
  if (!parser.ParseFromString(text, &loaded.scenario)) {
    if (loaded.problems.empty()) {
      loaded.problems.push_back(ScenarioProblem{display_path, 1, 1, "the file does not parse"});
    }
    return loaded;
  }
  Checker checker(loaded, tree, search);
  checker.run();
  if (loaded.scenario.expect().ByteSizeLong() == 0) {
    loaded.warnings.push_back(ScenarioProblem{
        display_path, 1, 1,
        "warning: the scenario expects nothing: it passes whenever the run completes and no "
        "oracle fires; say what must hold in expect { } (docs/SCENARIOS.md, section 5)"});
  }
  for (const ResolvedLibrary& library : checker.resolved()) {
    proto::ChannelSpec& channel =
        *loaded.scenario.mutable_topology()->mutable_channel(library.channel);
    (library.host ? channel.mutable_host_driver() : channel.mutable_guest_driver())
        ->set_library(library.path);
  }
  std::stable_sort(loaded.problems.begin(), loaded.problems.end(),
                   [](const ScenarioProblem& a, const ScenarioProblem& b) {
                     return a.line != b.line ? a.line < b.line : a.column < b.column;
                   });
  return loaded;
}

LoadedScenario load_text(const std::string& text, const std::string& display_path,
                         const LibrarySearch* search) {
  LoadedScenario loaded = parse_and_check(text, display_path, search);
  loaded.text = text;
  for (ScenarioProblem& problem : loaded.problems) {
    if (problem.line >= 1 && problem.column >= 1) {
      problem.column = byte_column(text, problem.line, problem.column);
    }
  }
  return loaded;
}

}  // namespace

LoadedScenario load_scenario_text(const std::string& text, const std::string& display_path) {
  return load_text(text, display_path, nullptr);
}

LoadedScenario load_scenario_text(const std::string& text, const std::string& display_path,
                                  const std::filesystem::path& folder, const LoadOptions& options) {
  const LibrarySearch search{folder, options.driver_dirs};
  return load_text(text, display_path, &search);
}

LoadedScenario load_scenario(const std::filesystem::path& path, const std::string& display_path,
                             const LoadOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    LoadedScenario loaded;
    loaded.path = path;
    loaded.display_path = display_path;
    loaded.problems.push_back(ScenarioProblem{display_path, 0, 0, "cannot open the file"});
    return loaded;
  }
  std::ostringstream text;
  text << in.rdbuf();
  const LibrarySearch search{path.parent_path(), options.driver_dirs};
  LoadedScenario loaded = load_text(text.str(), display_path, &search);
  loaded.path = path;
  return loaded;
}

}  // namespace vmbus::runner
