#include "actions.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "vmbus/base/check.h"
#include "vmbus/wire/synic.h"

#include "internal.h"

namespace vmbus::runner {
namespace {

using Entry = proto::TimelineEntry;

constexpr std::uint32_t kMaxCount = 1'000'000;
constexpr std::uint32_t kMaxExternalPages = 64;
// A send action's packets are queued at once by the partition that sends
// them, so their total size is bounded, not only each factor.
constexpr std::uint64_t kMaxSendBytes = 64ull << 20;

bool is_hex_digit(char c) {
  return std::isxdigit(static_cast<unsigned char>(c)) != 0;
}

// The bytes one packet of `payload` carries once resolved.
std::uint64_t payload_size_bytes(const proto::Payload& payload) {
  switch (payload.data_case()) {
    case proto::Payload::kText:
      return payload.text().size();
    case proto::Payload::kHex:
      return static_cast<std::uint64_t>(
                 std::count_if(payload.hex().begin(), payload.hex().end(), is_hex_digit)) /
             2;
    case proto::Payload::kPattern:
      return payload.pattern().size();
    case proto::Payload::kRaw:
      return payload.raw().size();
    default:
      return 16;
  }
}

std::string payload_words(const proto::Payload& payload) {
  switch (payload.data_case()) {
    case proto::Payload::kText:
      return "\"" + payload.text() + "\"";
    case proto::Payload::kHex:
    case proto::Payload::kPattern:
    case proto::Payload::kRaw:
      return std::to_string(payload.raw().size()) + " bytes";
    default:
      return "16 bytes";
  }
}

std::string bytes_from_hex(const std::string& hex) {
  std::string out;
  int high = -1;
  for (char c : hex) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) {
      continue;
    }
    const int digit = std::isdigit(static_cast<unsigned char>(c))
                          ? c - '0'
                          : std::tolower(static_cast<unsigned char>(c)) - 'a' + 10;
    if (high < 0) {
      high = digit;
    } else {
      out.push_back(static_cast<char>(high * 16 + digit));
      high = -1;
    }
  }
  return out;
}

// Payload as written -> Payload.raw. An absent payload stays absent (the
// partition then sends its default bytes).
void resolve_payload(proto::Payload& payload) {
  std::string raw;
  switch (payload.data_case()) {
    case proto::Payload::kText:
      raw = payload.text();
      break;
    case proto::Payload::kHex:
      raw = bytes_from_hex(payload.hex());
      break;
    case proto::Payload::kPattern:
      raw.resize(payload.pattern().size());
      for (std::size_t i = 0; i < raw.size(); ++i) {
        raw[i] =
            static_cast<char>(payload.pattern().counting() ? (i & 0xFF) : payload.pattern().fill());
      }
      break;
    default:
      return;
  }
  payload.set_raw(raw);
}

std::uint32_t relid(const CompiledScenario& scenario, const std::string& channel) {
  return scenario.relid_of(channel).value_or(0);
}

hypervisor::Side side_of(proto::Side side) {
  return side == proto::HOST ? hypervisor::Side::kHost : hypervisor::Side::kGuest;
}

hypervisor::Direction direction_of(proto::Direction direction) {
  return direction == proto::HOST_TO_GUEST ? hypervisor::Direction::kHostToGuest
                                           : hypervisor::Direction::kGuestToHost;
}

template <Owner kOwner>
Owner always(const Entry& /*entry*/) {
  return kOwner;
}

// A partition's action travels to it as a PartitionAction.
hypervisor::Intervention ask(Owner owner, proto::PartitionAction action) {
  VMBUS_CHECK(owner != Owner::kHypervisor, "a partition action routed to the hypervisor");
  return hypervisor::RequestAction{
      owner == Owner::kHost ? hypervisor::Side::kHost : hypervisor::Side::kGuest,
      std::move(action)};
}

void no_check(const Entry& /*entry*/, const Where& /*where*/, Checks& /*checks*/) {}
void no_resolve(Entry& /*entry*/, const CompiledScenario& /*scenario*/) {}

// host_send, guest_send: the host's VSP or the guest's KMCL driver sends packets.

const proto::SendAction& send_of(const Entry& entry) {
  return entry.action_case() == Entry::kHostSend ? entry.host_send() : entry.guest_send();
}

void check_send(const Entry& entry, const Where& where, Checks& checks) {
  const proto::SendAction& send = send_of(entry);
  checks.channel(where, send.channel());
  checks.scripted_only(where, "channel", send.channel(),
                       entry.action_case() == Entry::kHostSend ? proto::HOST : proto::GUEST,
                       entry.action_case() == Entry::kHostSend ? "host_send" : "guest_send");
  checks.payload(where, "payload", send.payload());
  checks.runner_field(where, send.child_relid());
  if (send.has_trans_id()) {
    checks.problem(where, "trans_id",
                   "KMCL chooses its own trans_id (1, 2, 3, ... per channel); a raw_packet "
                   "carries any");
  }
  const std::uint64_t total_bytes =
      std::max<std::uint64_t>(1, send.count()) * payload_size_bytes(send.payload());
  if (send.count() > kMaxCount) {
    checks.problem(where, "count", "count " + std::to_string(send.count()) + " is above 1000000");
  } else if (total_bytes > kMaxSendBytes) {
    checks.problem(where, "count",
                   std::to_string(send.count()) + " packets of " +
                       std::to_string(payload_size_bytes(send.payload())) + " bytes are " +
                       std::to_string(total_bytes) +
                       " bytes; one send action queues at most 67108864 bytes (64 MiB)");
  }
  if (send.external_pages() > kMaxExternalPages) {
    checks.problem(where, "external_pages", "external_pages is at most 64");
  }
}

std::string describe_send(const Entry& entry) {
  const proto::SendAction& send = send_of(entry);
  std::string text =
      std::string(entry.action_case() == Entry::kHostSend ? "host_send" : "guest_send") + " " +
      (send.count() > 1 ? std::to_string(send.count()) + " x " : "") +
      payload_words(send.payload()) + " on " + quoted(send.channel());
  if (send.request_completion()) {
    text += ", completion requested";
  }
  if (send.external_pages() != 0) {
    text += ", " + std::to_string(send.external_pages()) + " external page(s)";
  }
  if (send.synchronous()) {
    text += ", synchronous (timeout " + std::to_string(send.timeout_us()) + " us)";
  }
  return text;
}

void resolve_send(Entry& entry, const CompiledScenario& scenario) {
  proto::SendAction& send = entry.action_case() == Entry::kHostSend ? *entry.mutable_host_send()
                                                                    : *entry.mutable_guest_send();
  send.set_child_relid(relid(scenario, send.channel()));
  resolve_payload(*send.mutable_payload());
}

hypervisor::Intervention compile_send(const Entry& entry, Owner owner) {
  proto::PartitionAction action;
  *action.mutable_send() = send_of(entry);
  return ask(owner, std::move(action));
}

// ring_write, raw_packet, tamper and set_index make the host (side: HOST,
// the default) a malicious root partition, or the guest (side: GUEST) a
// malicious guest.

proto::Side raw_side(const Entry& entry) {
  switch (entry.action_case()) {
    case Entry::kRingWrite:
      return entry.ring_write().side();
    case Entry::kRawPacket:
      return entry.raw_packet().side();
    case Entry::kTamper:
      return entry.tamper().side();
    case Entry::kSetIndex:
      return entry.set_index().side();
    default:
      VMBUS_CHECK(false, "raw_side of an action that is not a raw ring write");
      return proto::HOST;
  }
}

Owner raw_owner(const Entry& entry) {
  return raw_side(entry) == proto::GUEST ? Owner::kGuest : Owner::kHost;
}

void check_raw_side(const Entry& entry, const Where& where, Checks& checks) {
  if (raw_side(entry) == proto::HYPERVISOR) {
    checks.problem(where, "side",
                   "a raw ring write is a malicious host's (HOST, the default) or guest's "
                   "(GUEST), not the simulator's");
  }
}

// " by the guest" for a hostile guest's action ("" for the host's).
std::string by_whom(const Entry& entry) {
  return raw_side(entry) == proto::GUEST ? " by the guest" : "";
}

// ring_write: raw bytes into a ring's data area.

void check_ring_write(const Entry& entry, const Where& where, Checks& checks) {
  check_raw_side(entry, where, checks);
  checks.channel(where, entry.ring_write().channel());
  checks.payload(where, "bytes", entry.ring_write().bytes());
  checks.runner_field(where, entry.ring_write().child_relid());
}

std::string describe_ring_write(const Entry& entry) {
  const proto::RingWriteAction& write = entry.ring_write();
  return "ring_write " + payload_words(write.bytes()) + " at offset " +
         std::to_string(write.offset()) + " of " + enum_words(proto::RingId_Name(write.ring())) +
         " of " + quoted(write.channel()) + by_whom(entry);
}

void resolve_ring_write(Entry& entry, const CompiledScenario& scenario) {
  proto::RingWriteAction& write = *entry.mutable_ring_write();
  write.set_child_relid(relid(scenario, write.channel()));
  resolve_payload(*write.mutable_bytes());
}

hypervisor::Intervention compile_ring_write(const Entry& entry, Owner owner) {
  proto::PartitionAction action;
  *action.mutable_ring_write() = entry.ring_write();
  return ask(owner, std::move(action));
}

// raw_packet: a descriptor with fields of the writer's choice, published.

void check_raw_packet(const Entry& entry, const Where& where, Checks& checks) {
  check_raw_side(entry, where, checks);
  checks.channel(where, entry.raw_packet().channel());
  checks.payload(where, "payload", entry.raw_packet().payload());
  checks.runner_field(where, entry.raw_packet().child_relid());
}

std::string describe_raw_packet(const Entry& entry) {
  const proto::RawPacketAction& raw = entry.raw_packet();
  std::string text = "raw_packet on " + quoted(raw.channel());
  if (raw.has_type()) {
    text += " type " + std::to_string(raw.type());
  }
  if (raw.has_offset8()) {
    text += " offset8 " + std::to_string(raw.offset8());
  }
  if (raw.has_len8()) {
    text += " len8 " + std::to_string(raw.len8());
  }
  return text + by_whom(entry);
}

void resolve_raw_packet(Entry& entry, const CompiledScenario& scenario) {
  proto::RawPacketAction& raw = *entry.mutable_raw_packet();
  raw.set_child_relid(relid(scenario, raw.channel()));
  resolve_payload(*raw.mutable_payload());
}

hypervisor::Intervention compile_raw_packet(const Entry& entry, Owner owner) {
  proto::PartitionAction action;
  *action.mutable_raw_packet() = entry.raw_packet();
  return ask(owner, std::move(action));
}

// snapshot_ring: the host copies one ring of a live run into an image file.

void check_snapshot_ring(const Entry& entry, const Where& where, Checks& checks) {
  checks.channel(where, entry.snapshot_ring().channel());
  if (entry.snapshot_ring().path().empty()) {
    checks.problem(where, "path", "snapshot_ring needs the image file's path");
  }
  checks.runner_field(where, entry.snapshot_ring().child_relid());
}

std::string describe_snapshot_ring(const Entry& entry) {
  const proto::SnapshotRingAction& snapshot = entry.snapshot_ring();
  return "snapshot_ring " + enum_words(proto::RingId_Name(snapshot.ring())) + " of " +
         quoted(snapshot.channel()) + " to " + snapshot.path();
}

// The path is the scenario file's folder's business, but the host that
// writes it runs elsewhere: it gets an absolute path.
void resolve_snapshot_ring(Entry& entry, const CompiledScenario& scenario) {
  proto::SnapshotRingAction& snapshot = *entry.mutable_snapshot_ring();
  snapshot.set_child_relid(relid(scenario, snapshot.channel()));
  std::filesystem::path path = snapshot.path();
  if (path.is_relative()) {
    path = std::filesystem::path(scenario.display_path).parent_path() / path;
  }
  std::error_code ignored;
  snapshot.set_path(std::filesystem::absolute(path, ignored).lexically_normal().string());
}

hypervisor::Intervention compile_snapshot_ring(const Entry& entry, Owner owner) {
  proto::PartitionAction action;
  *action.mutable_snapshot_ring() = entry.snapshot_ring();
  return ask(owner, std::move(action));
}

// host_message: the host posts a control message of the scenario's making.

// The message type a host_message names: a CHANNELMSG name, or any number
// up to 255 (a type no version defines is what a version-skew case needs).
std::optional<std::uint32_t> host_message_type(const std::string& text) {
  if (const auto known = scenario_message_type(text)) {
    return known;
  }
  if (text.empty() || text.size() > 3 || !std::all_of(text.begin(), text.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c)) != 0;
      })) {
    return std::nullopt;
  }
  const auto number = static_cast<std::uint32_t>(std::stoul(text));
  return number <= 255 ? std::optional(number) : std::nullopt;
}

void check_host_message(const Entry& entry, const Where& where, Checks& checks) {
  const proto::HostMessageAction& message = entry.host_message();
  if (!host_message_type(message.type())) {
    checks.problem(where, "type",
                   "unknown message type '" + message.type() +
                       "' (a CHANNELMSG name such as TL_CONNECT_RESULT, or a number 0..255)");
  }
  checks.payload(where, "payload", message.payload());
  // One SynIC message: 240 bytes, the first 8 the CHANNELMSG header.
  constexpr std::uint64_t kMaxBodyBytes = wire::kHvMessagePayloadMaxBytes - 8;
  if (message.has_payload() && payload_size_bytes(message.payload()) > kMaxBodyBytes) {
    checks.problem(where, "payload",
                   "a control message carries at most " + std::to_string(kMaxBodyBytes) +
                       " bytes after its header, not " +
                       std::to_string(payload_size_bytes(message.payload())));
  }
  if (message.msgtype() != 0) {
    checks.problem(where, "msgtype", "msgtype is set by the runner; write type");
  }
}

std::string describe_host_message(const Entry& entry) {
  const proto::HostMessageAction& message = entry.host_message();
  return "host_message " + message.type() + " with " +
         (message.has_payload() ? payload_words(message.payload()) : std::string("no bytes"));
}

void resolve_host_message(Entry& entry, const CompiledScenario& /*scenario*/) {
  proto::HostMessageAction& message = *entry.mutable_host_message();
  message.set_msgtype(host_message_type(message.type()).value_or(0));
  if (message.has_payload()) {
    resolve_payload(*message.mutable_payload());
  }
}

hypervisor::Intervention compile_host_message(const Entry& entry, Owner owner) {
  proto::PartitionAction action;
  *action.mutable_host_message() = entry.host_message();
  return ask(owner, std::move(action));
}

// duplicate_offer: the host offers a channel again while its relid is in use.

void check_duplicate_offer(const Entry& entry, const Where& where, Checks& checks) {
  checks.channel(where, entry.duplicate_offer().channel());
  checks.runner_field(where, entry.duplicate_offer().child_relid());
}

std::string describe_duplicate_offer(const Entry& entry) {
  return "duplicate_offer of " + quoted(entry.duplicate_offer().channel());
}

void resolve_duplicate_offer(Entry& entry, const CompiledScenario& scenario) {
  proto::DuplicateOfferAction& offer = *entry.mutable_duplicate_offer();
  offer.set_child_relid(relid(scenario, offer.channel()));
}

hypervisor::Intervention compile_duplicate_offer(const Entry& entry, Owner owner) {
  proto::PartitionAction action;
  *action.mutable_duplicate_offer() = entry.duplicate_offer();
  return ask(owner, std::move(action));
}

// tamper: the writer rewrites the last packet it sent, after the copy.

void check_tamper(const Entry& entry, const Where& where, Checks& checks) {
  check_raw_side(entry, where, checks);
  checks.channel(where, entry.tamper().channel());
  checks.payload(where, "bytes", entry.tamper().bytes());
  checks.runner_field(where, entry.tamper().child_relid());
}

std::string describe_tamper(const Entry& entry) {
  return "tamper: overwrite the last packet sent on " + quoted(entry.tamper().channel()) +
         " with " + payload_words(entry.tamper().bytes()) + by_whom(entry);
}

void resolve_tamper(Entry& entry, const CompiledScenario& scenario) {
  proto::TamperAction& tamper = *entry.mutable_tamper();
  tamper.set_child_relid(relid(scenario, tamper.channel()));
  resolve_payload(*tamper.mutable_bytes());
}

hypervisor::Intervention compile_tamper(const Entry& entry, Owner owner) {
  proto::PartitionAction action;
  *action.mutable_tamper() = entry.tamper();
  return ask(owner, std::move(action));
}

// set_index: the writer stores any value into a ring index.

void check_set_index(const Entry& entry, const Where& where, Checks& checks) {
  check_raw_side(entry, where, checks);
  checks.channel(where, entry.set_index().channel());
  checks.runner_field(where, entry.set_index().child_relid());
}

std::string describe_set_index(const Entry& entry) {
  const proto::SetIndexAction& set = entry.set_index();
  return "set_index " + enum_words(proto::SetIndexAction::Index_Name(set.index())) + " of " +
         enum_words(proto::RingId_Name(set.ring())) + " of " + quoted(set.channel()) + " to " +
         std::to_string(set.value()) + by_whom(entry);
}

void resolve_set_index(Entry& entry, const CompiledScenario& scenario) {
  entry.mutable_set_index()->set_child_relid(relid(scenario, entry.set_index().channel()));
}

hypervisor::Intervention compile_set_index(const Entry& entry, Owner owner) {
  proto::PartitionAction action;
  *action.mutable_set_index() = entry.set_index();
  return ask(owner, std::move(action));
}

// A fault's delay is bounded by the scenario's time limit: a later delivery
// could never be seen, and the hypervisor turns it into nanoseconds.
void check_fault_delay(const Where& where, std::uint64_t delay_us, Checks& checks) {
  if (delay_us > checks.limit_us()) {
    checks.problem(where, "delay_us",
                   "delay_us " + std::to_string(delay_us) + " is longer than the time limit of " +
                       std::to_string(checks.limit_us()) + " us");
  }
}

// interrupt_fault: the hypervisor drops, delays or duplicates signals.

void check_interrupt_fault(const Entry& entry, const Where& where, Checks& checks) {
  const proto::InterruptFault& fault = entry.interrupt_fault();
  checks.channel(where, fault.channel(), false);
  checks.runner_field(where, fault.child_relid());
  if (fault.kind() == proto::InterruptFault::DELAY && fault.delay_us() == 0) {
    checks.problem(where, "kind", "a DELAY fault needs delay_us");
  }
  if (fault.kind() == proto::InterruptFault::OLD_VP &&
      (fault.direction() != proto::HOST_TO_GUEST || checks.guest_vps() == 1)) {
    checks.problem(where, "kind",
                   "an OLD_VP fault moves host -> guest interrupts between the guest's VPs: it "
                   "needs direction HOST_TO_GUEST and topology guest_vps of 2 or more");
  }
  check_fault_delay(where, fault.delay_us(), checks);
}

std::string describe_interrupt_fault(const Entry& entry) {
  const proto::InterruptFault& fault = entry.interrupt_fault();
  if (fault.kind() == proto::InterruptFault::OLD_VP) {
    return "interrupt_fault: the next " +
           std::to_string(std::max<std::uint32_t>(1, fault.count())) +
           " host to guest interrupt(s)" +
           (fault.channel().empty() ? "" : " of " + quoted(fault.channel())) +
           " of a channel being moved land on its old vp";
  }
  return "interrupt_fault: " + enum_words(proto::InterruptFault::Kind_Name(fault.kind())) +
         " the next " + std::to_string(std::max<std::uint32_t>(1, fault.count())) + " " +
         enum_words(proto::Direction_Name(fault.direction())) + " signal(s)" +
         (fault.channel().empty() ? "" : " of " + quoted(fault.channel())) +
         (fault.delay_us() != 0 ? " by " + std::to_string(fault.delay_us()) + " us" : "");
}

void resolve_interrupt_fault(Entry& entry, const CompiledScenario& scenario) {
  entry.mutable_interrupt_fault()->set_child_relid(
      relid(scenario, entry.interrupt_fault().channel()));
}

hypervisor::Intervention compile_interrupt_fault(const Entry& entry, Owner /*owner*/) {
  using Kind = hypervisor::ArmSignalFault::Kind;
  const proto::InterruptFault& fault = entry.interrupt_fault();
  hypervisor::ArmSignalFault arm;
  arm.direction = direction_of(fault.direction());
  arm.kind = fault.kind() == proto::InterruptFault::DROP     ? Kind::kDrop
             : fault.kind() == proto::InterruptFault::DELAY  ? Kind::kDelay
             : fault.kind() == proto::InterruptFault::OLD_VP ? Kind::kOldVp
                                                             : Kind::kDuplicate;
  arm.count = fault.count();
  arm.delay_us = fault.delay_us();
  arm.child_relid = fault.child_relid();
  return arm;
}

// spurious_interrupt: an interrupt nobody signalled.

void check_spurious_interrupt(const Entry& entry, const Where& where, Checks& checks) {
  checks.channel(where, entry.spurious_interrupt().channel());
  checks.runner_field(where, entry.spurious_interrupt().child_relid());
}

std::string describe_spurious_interrupt(const Entry& entry) {
  return "spurious_interrupt " +
         enum_words(proto::Direction_Name(entry.spurious_interrupt().direction())) + " on " +
         quoted(entry.spurious_interrupt().channel());
}

void resolve_spurious_interrupt(Entry& entry, const CompiledScenario& scenario) {
  entry.mutable_spurious_interrupt()->set_child_relid(
      relid(scenario, entry.spurious_interrupt().channel()));
}

hypervisor::Intervention compile_spurious_interrupt(const Entry& entry, Owner /*owner*/) {
  return hypervisor::InjectSpuriousInterrupt{direction_of(entry.spurious_interrupt().direction()),
                                             entry.spurious_interrupt().child_relid()};
}

// message_fault: the hypervisor drops, delays, duplicates, reorders or
// corrupts control messages.

void check_message_fault(const Entry& entry, const Where& where, Checks& checks) {
  const proto::MessageFault& fault = entry.message_fault();
  if (!fault.message().empty() && !scenario_message_type(fault.message())) {
    checks.problem(where, "message",
                   "unknown message type '" + fault.message() +
                       "' (a CHANNELMSG name such as OPENCHANNEL_RESULT, or a number 0..24)");
  }
  if (fault.kind() == proto::MessageFault::DELAY && fault.delay_us() == 0) {
    checks.problem(where, "kind", "a DELAY fault needs delay_us");
  }
  check_fault_delay(where, fault.delay_us(), checks);
  if (fault.kind() == proto::MessageFault::CORRUPT) {
    if (!fault.has_corrupt_bytes()) {
      checks.problem(where, "kind", "a CORRUPT fault needs corrupt_bytes");
    }
    checks.payload(where, "corrupt_bytes", fault.corrupt_bytes());
  } else if (fault.has_corrupt_bytes() || fault.corrupt_offset() != 0) {
    // Resolving a payload fills it, so one that would never be used must not
    // pass unchecked: reject it rather than build it.
    checks.problem(where, fault.has_corrupt_bytes() ? "corrupt_bytes" : "corrupt_offset",
                   "corrupt_bytes and corrupt_offset belong to a CORRUPT fault, not " +
                       proto::MessageFault::Kind_Name(fault.kind()));
  }
  if (fault.msgtype() != 0 || fault.any_type()) {
    checks.problem(where, "msgtype", "msgtype and any_type are set by the runner; write message");
  }
}

std::string describe_message_fault(const Entry& entry) {
  const proto::MessageFault& fault = entry.message_fault();
  return "message_fault: " + enum_words(proto::MessageFault::Kind_Name(fault.kind())) +
         " the next " + std::to_string(std::max<std::uint32_t>(1, fault.count())) + " " +
         enum_words(proto::Direction_Name(fault.direction())) + " " +
         (fault.message().empty() ? "message(s)" : fault.message());
}

void resolve_message_fault(Entry& entry, const CompiledScenario& /*scenario*/) {
  proto::MessageFault& fault = *entry.mutable_message_fault();
  if (fault.message().empty()) {
    fault.set_any_type(true);
  } else {
    fault.set_msgtype(scenario_message_type(fault.message()).value_or(0));
  }
  if (fault.kind() == proto::MessageFault::CORRUPT) {
    resolve_payload(*fault.mutable_corrupt_bytes());
  }
}

hypervisor::ArmMessageFault::Kind message_fault_kind(proto::MessageFault::Kind kind) {
  using Kind = hypervisor::ArmMessageFault::Kind;
  switch (kind) {
    case proto::MessageFault::DELAY:
      return Kind::kDelay;
    case proto::MessageFault::DUPLICATE:
      return Kind::kDuplicate;
    case proto::MessageFault::REORDER:
      return Kind::kReorder;
    case proto::MessageFault::CORRUPT:
      return Kind::kCorrupt;
    default:
      return Kind::kDrop;
  }
}

hypervisor::Intervention compile_message_fault(const Entry& entry, Owner /*owner*/) {
  const proto::MessageFault& fault = entry.message_fault();
  hypervisor::ArmMessageFault arm;
  arm.direction = direction_of(fault.direction());
  arm.kind = message_fault_kind(fault.kind());
  if (!fault.any_type()) {
    arm.msgtype = fault.msgtype();
  }
  arm.count = fault.count();
  arm.delay_us = fault.delay_us();
  arm.corrupt_offset = fault.corrupt_offset();
  arm.corrupt_bytes = fault.corrupt_bytes().raw();
  return arm;
}

// channel_op: a KMCL channel operation of either side's driver, or a rescind.

// RESCIND withdraws the host's offer; every other operation is a KMCL call
// of the guest's driver, or with side: HOST of the host VSP's.
Owner channel_op_owner(const Entry& entry) {
  return entry.channel_op().op() == proto::ChannelOpAction::RESCIND ||
                 entry.channel_op().side() == proto::HOST
             ? Owner::kHost
             : Owner::kGuest;
}

void check_channel_op(const Entry& entry, const Where& where, Checks& checks) {
  const proto::ChannelOpAction& op = entry.channel_op();
  checks.channel(where, op.channel());
  checks.runner_field(where, op.child_relid());
  if (op.op() == proto::ChannelOpAction::OP_UNSPECIFIED) {
    checks.problem(where, "op", "channel_op needs an op (PAUSE, START, CLOSE, RESCIND, ...)");
  }
  if (!checks.side(where, op.side(), "channel_op")) {
    return;
  }
  if (op.op() == proto::ChannelOpAction::RESCIND && op.side() == proto::GUEST) {
    checks.problem(where, "side", "RESCIND is the host's (its VSP revokes the offer)");
  }
  if (op.op() == proto::ChannelOpAction::COMPLETE_OUTSTANDING) {
    checks.scripted_only(where, "op", op.channel(), op.side(), "COMPLETE_OUTSTANDING");
  }
  if ((op.op() == proto::ChannelOpAction::ENABLE || op.op() == proto::ChannelOpAction::REOPEN) &&
      op.side() == proto::HOST) {
    checks.problem(where, "op",
                   "the host's VSP enables its channel when the host starts; a revoked offer is "
                   "not offered again");
  }
}

// " (host)" when the host's driver acts on a side-less action's behalf.
std::string host_words(proto::Side side) {
  return side == proto::HOST ? " (host)" : "";
}

std::string describe_channel_op(const Entry& entry) {
  const proto::ChannelOpAction& op = entry.channel_op();
  return "channel_op " + proto::ChannelOpAction::Op_Name(op.op()) + " on " + quoted(op.channel()) +
         host_words(op.side()) + (op.value() != 0 ? " value " + std::to_string(op.value()) : "");
}

void resolve_channel_op(Entry& entry, const CompiledScenario& scenario) {
  entry.mutable_channel_op()->set_child_relid(relid(scenario, entry.channel_op().channel()));
}

hypervisor::Intervention compile_channel_op(const Entry& entry, Owner owner) {
  proto::PartitionAction action;
  *action.mutable_channel_op() = entry.channel_op();
  return ask(owner, std::move(action));
}

// set_policy: a driver's policy from now on, the guest's or the host VSP's.

Owner set_policy_owner(const Entry& entry) {
  return entry.set_policy().side() == proto::HOST ? Owner::kHost : Owner::kGuest;
}

void check_set_policy(const Entry& entry, const Where& where, Checks& checks) {
  const proto::SetPolicyAction& policy = entry.set_policy();
  checks.channel(where, policy.channel());
  checks.runner_field(where, policy.child_relid());
  if (checks.side(where, policy.side(), "set_policy")) {
    checks.scripted_only(where, "channel", policy.channel(), policy.side(), "set_policy");
  }
  checks.policy(where, policy.rule(), policy.default_action(), "default_action");
}

std::string describe_set_policy(const Entry& entry) {
  const proto::SetPolicyAction& policy = entry.set_policy();
  return "set_policy on " + quoted(policy.channel()) + host_words(policy.side()) + " (" +
         std::to_string(policy.rule_size()) + " rule(s), default " +
         (policy.side() == proto::HOST && !policy.has_default_action()
              ? std::string("the VSP kind's")
              : enum_words(proto::DriverAction::Kind_Name(policy.default_action().kind()))) +
         ")";
}

void resolve_set_policy(Entry& entry, const CompiledScenario& scenario) {
  entry.mutable_set_policy()->set_child_relid(relid(scenario, entry.set_policy().channel()));
}

hypervisor::Intervention compile_set_policy(const Entry& entry, Owner owner) {
  proto::PartitionAction action;
  *action.mutable_set_policy() = entry.set_policy();
  return ask(owner, std::move(action));
}

// unload: the guest's VMBus driver goes away without closing its channels.

std::string describe_unload(const Entry& /*entry*/) {
  return "unload: the guest's VMBus driver unloads without closing its channels";
}

hypervisor::Intervention compile_unload(const Entry& entry, Owner owner) {
  proto::PartitionAction action;
  *action.mutable_unload() = entry.unload();
  return ask(owner, std::move(action));
}

// crash: the hypervisor kills a partition.

void check_crash(const Entry& entry, const Where& where, Checks& checks) {
  if (entry.crash().side() != proto::HOST && entry.crash().side() != proto::GUEST) {
    checks.problem(where, "side", "crash needs side: HOST or GUEST");
  }
}

std::string describe_crash(const Entry& entry) {
  return "crash the " + enum_words(proto::Side_Name(entry.crash().side()));
}

hypervisor::Intervention compile_crash(const Entry& entry, Owner /*owner*/) {
  return hypervisor::CrashPartition{side_of(entry.crash().side())};
}

// advance_time: the simulated clock jumps.

void check_advance_time(const Entry& entry, const Where& where, Checks& checks) {
  if (entry.advance_time().us() == 0 || entry.advance_time().us() > checks.limit_us()) {
    checks.problem(where, "us", "advance_time needs us between 1 and the time limit");
  }
}

std::string describe_advance_time(const Entry& entry) {
  return "advance time by " + std::to_string(entry.advance_time().us()) + " us";
}

hypervisor::Intervention compile_advance_time(const Entry& entry, Owner /*owner*/) {
  return hypervisor::AdvanceTime{entry.advance_time().us() * 1000};
}

// wait_until: the timeline waits for a condition.

// The timeline's script holds the entry back until its condition holds;
// then there is nothing left to do.
void check_wait_until(const Entry& entry, const Where& where, Checks& checks) {
  checks.condition(where, entry.wait_until());
}

std::string describe_wait_until(const Entry& entry) {
  return "wait until " + describe_condition(entry.wait_until());
}

hypervisor::Intervention compile_nothing(const Entry& /*entry*/, Owner /*owner*/) {
  return hypervisor::NoIntervention{};
}

// note: words for the trace's readers.

std::string describe_note(const Entry& /*entry*/) {
  return "note";
}

hypervisor::Intervention compile_note(const Entry& entry, Owner /*owner*/) {
  return hypervisor::WriteNote{entry.note()};
}

// hold, release: the scheduler leaves a context alone, then runs it again.

const proto::ContextHold& hold_of(const Entry& entry) {
  return entry.action_case() == Entry::kHold ? entry.hold() : entry.release();
}

void check_hold(const Entry& entry, const Where& where, Checks& checks) {
  const proto::ContextHold& hold = hold_of(entry);
  if (hold.side() != proto::HOST && hold.side() != proto::GUEST) {
    checks.problem(where, "side",
                   std::string(entry.action_case() == Entry::kHold ? "hold" : "release") +
                       " needs side: HOST or GUEST");
  }
  if (hold.context().empty() || hold.context().back() == '/') {
    checks.problem(where, "context", "a context name such as \"kmcl/1/passive\" is needed");
  }
}

std::string describe_hold(const Entry& entry) {
  const proto::ContextHold& hold = hold_of(entry);
  return std::string(entry.action_case() == Entry::kHold ? "hold " : "release ") +
         enum_words(proto::Side_Name(hold.side())) + " context " + hold.context();
}

hypervisor::Intervention compile_hold(const Entry& entry, Owner /*owner*/) {
  const proto::ContextHold& hold = hold_of(entry);
  if (entry.action_case() == Entry::kHold) {
    return hypervisor::HoldContext{side_of(hold.side()), hold.context()};
  }
  return hypervisor::ReleaseContext{side_of(hold.side()), hold.context()};
}

// offer_subchannels: the host's VSP answers its driver's request for
// subchannels by offering them.

void check_offer_subchannels(const Entry& entry, const Where& where, Checks& checks) {
  const proto::OfferSubchannelsAction& offer = entry.offer_subchannels();
  checks.channel(where, offer.channel());
  checks.runner_field(where, offer.child_relid());
  if (checks.has_channel(offer.channel()) && !checks.subchannels_on_request(offer.channel())) {
    checks.problem(where, "channel",
                   "channel '" + offer.channel() +
                       "' has no subchannels waiting for a request (subchannels_on_request)");
  }
}

std::string describe_offer_subchannels(const Entry& entry) {
  return "the host offers the subchannels of " + quoted(entry.offer_subchannels().channel());
}

void resolve_offer_subchannels(Entry& entry, const CompiledScenario& scenario) {
  entry.mutable_offer_subchannels()->set_child_relid(
      relid(scenario, entry.offer_subchannels().channel()));
}

hypervisor::Intervention compile_offer_subchannels(const Entry& entry, Owner owner) {
  proto::PartitionAction action;
  *action.mutable_offer_subchannels() = entry.offer_subchannels();
  return ask(owner, std::move(action));
}

// hibernate, resume: the guest's bus suspends (its drivers close their
// channels, the bus keeps them and unloads) and resumes (it connects again
// and finds its channels among the host's offers).

std::string describe_hibernate(const Entry& /*entry*/) {
  return "hibernate: the guest's drivers close their channels and its VMBus suspends";
}

hypervisor::Intervention compile_hibernate(const Entry& entry, Owner owner) {
  proto::PartitionAction action;
  *action.mutable_hibernate() = entry.hibernate();
  return ask(owner, std::move(action));
}

std::string describe_resume(const Entry& /*entry*/) {
  return "resume: the guest's VMBus connects again and its drivers reopen their channels";
}

hypervisor::Intervention compile_resume(const Entry& entry, Owner owner) {
  proto::PartitionAction action;
  *action.mutable_resume() = entry.resume();
  return ask(owner, std::move(action));
}

// modify_channel: the guest moves a channel's interrupts to another VP.

void check_modify_channel(const Entry& entry, const Where& where, Checks& checks) {
  const proto::ModifyChannelAction& modify = entry.modify_channel();
  checks.channel(where, modify.channel());
  checks.runner_field(where, modify.child_relid());
  checks.vp(where, "target_vp", modify.target_vp());
}

std::string describe_modify_channel(const Entry& entry) {
  return "the guest moves " + quoted(entry.modify_channel().channel()) + "'s interrupts to vp " +
         std::to_string(entry.modify_channel().target_vp()) + " (MODIFYCHANNEL)";
}

void resolve_modify_channel(Entry& entry, const CompiledScenario& scenario) {
  entry.mutable_modify_channel()->set_child_relid(
      relid(scenario, entry.modify_channel().channel()));
}

hypervisor::Intervention compile_modify_channel(const Entry& entry, Owner owner) {
  proto::PartitionAction action;
  *action.mutable_modify_channel() = entry.modify_channel();
  return ask(owner, std::move(action));
}

constexpr Owner (*kHost)(const Entry&) = always<Owner::kHost>;
constexpr Owner (*kGuest)(const Entry&) = always<Owner::kGuest>;
constexpr Owner (*kHypervisor)(const Entry&) = always<Owner::kHypervisor>;

// One row per action of TimelineEntry's `action` oneof, in its order.
constexpr ActionRow kActions[] = {
    {Entry::kHostSend, "host_send", kHost, check_send, describe_send, resolve_send, compile_send},
    {Entry::kGuestSend, "guest_send", kGuest, check_send, describe_send, resolve_send,
     compile_send},
    {Entry::kRingWrite, "ring_write", raw_owner, check_ring_write, describe_ring_write,
     resolve_ring_write, compile_ring_write},
    {Entry::kRawPacket, "raw_packet", raw_owner, check_raw_packet, describe_raw_packet,
     resolve_raw_packet, compile_raw_packet},
    {Entry::kTamper, "tamper", raw_owner, check_tamper, describe_tamper, resolve_tamper,
     compile_tamper},
    {Entry::kSetIndex, "set_index", raw_owner, check_set_index, describe_set_index,
     resolve_set_index, compile_set_index},
    {Entry::kInterruptFault, "interrupt_fault", kHypervisor, check_interrupt_fault,
     describe_interrupt_fault, resolve_interrupt_fault, compile_interrupt_fault},
    {Entry::kSpuriousInterrupt, "spurious_interrupt", kHypervisor, check_spurious_interrupt,
     describe_spurious_interrupt, resolve_spurious_interrupt, compile_spurious_interrupt},
    {Entry::kMessageFault, "message_fault", kHypervisor, check_message_fault,
     describe_message_fault, resolve_message_fault, compile_message_fault},
    {Entry::kChannelOp, "channel_op", channel_op_owner, check_channel_op, describe_channel_op,
     resolve_channel_op, compile_channel_op},
    {Entry::kSetPolicy, "set_policy", set_policy_owner, check_set_policy, describe_set_policy,
     resolve_set_policy, compile_set_policy},
    {Entry::kUnload, "unload", kGuest, no_check, describe_unload, no_resolve, compile_unload},
    {Entry::kCrash, "crash", kHypervisor, check_crash, describe_crash, no_resolve, compile_crash},
    {Entry::kAdvanceTime, "advance_time", kHypervisor, check_advance_time, describe_advance_time,
     no_resolve, compile_advance_time},
    {Entry::kWaitUntil, "wait_until", kHypervisor, check_wait_until, describe_wait_until,
     no_resolve, compile_nothing},
    {Entry::kNote, "note", kHypervisor, no_check, describe_note, no_resolve, compile_note},
    {Entry::kHold, "hold", kHypervisor, check_hold, describe_hold, no_resolve, compile_hold},
    {Entry::kRelease, "release", kHypervisor, check_hold, describe_hold, no_resolve, compile_hold},
    {Entry::kSnapshotRing, "snapshot_ring", kHost, check_snapshot_ring, describe_snapshot_ring,
     resolve_snapshot_ring, compile_snapshot_ring},
    {Entry::kHostMessage, "host_message", kHost, check_host_message, describe_host_message,
     resolve_host_message, compile_host_message},
    {Entry::kDuplicateOffer, "duplicate_offer", kHost, check_duplicate_offer,
     describe_duplicate_offer, resolve_duplicate_offer, compile_duplicate_offer},
    {Entry::kOfferSubchannels, "offer_subchannels", kHost, check_offer_subchannels,
     describe_offer_subchannels, resolve_offer_subchannels, compile_offer_subchannels},
    {Entry::kHibernate, "hibernate", kGuest, no_check, describe_hibernate, no_resolve,
     compile_hibernate},
    {Entry::kResume, "resume", kGuest, no_check, describe_resume, no_resolve, compile_resume},
    {Entry::kModifyChannel, "modify_channel", kGuest, check_modify_channel, describe_modify_channel,
     resolve_modify_channel, compile_modify_channel},
};

}  // namespace

std::span<const ActionRow> action_table() {
  return kActions;
}

const ActionRow* find_action(Entry::ActionCase action) {
  for (const ActionRow& row : kActions) {
    if (row.action == action) {
      return &row;
    }
  }
  return nullptr;
}

std::string describe_action(const Entry& entry) {
  const ActionRow* row = find_action(entry.action_case());
  return row != nullptr ? row->describe(entry) : "nothing";
}

hypervisor::Intervention intervention_of(const Entry& entry) {
  const ActionRow* row = find_action(entry.action_case());
  if (row == nullptr) {
    return hypervisor::NoIntervention{};  // an entry with only a time waits, then is done
  }
  return row->compile(entry, row->owner(entry));
}

}  // namespace vmbus::runner
