#include "vmbus/hypervisor/simulation.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <dirent.h>
#include <fcntl.h>
#include <memory>
#include <optional>
#include <queue>
#include <set>
#include <signal.h>
#include <stdexcept>
#include <sys/types.h>

#include "vmbus/base/check.h"
#include "vmbus/base/prng.h"
#include "vmbus/hypervisor/child_process.h"
#include "vmbus/ipc/asio.h"
#include "vmbus/ipc/frame.h"
#include "vmbus/ipc/version.h"
#include "vmbus/shm/segment.h"
#include "vmbus/trace/writer.h"
#include "vmbus/wire/codec.h"
#include "vmbus/wire/synic.h"

namespace vmbus::hypervisor {
namespace {

namespace asio = boost::asio;

// SynIC parameters of the model.
constexpr std::size_t kMessageQueueDepth = 16;  // "every message port has 16 buffers"

struct RunFailure {
  RunOutcome outcome;
  std::string detail;
};

struct PendingMessage {
  std::uint32_t connection_id = 0;
  std::string payload;
};

// The simulator's view of one partition process.
struct PartitionLink {
  proto::Partition role = proto::PARTITION_UNSPECIFIED;
  std::string name;  // "vmbus-host" / "vmbus-guest"
  std::unique_ptr<ipc::LocalSocket> socket;
  std::unique_ptr<ipc::AsyncFrameReader> reader;
  std::unique_ptr<ChildProcess> process;
  std::deque<proto::PartitionToSim> inbox;
  std::optional<ipc::FrameStatus> link_error;
  std::vector<std::string> ready;  // sorted context names
  std::uint64_t wake_at_ns = 0;    // a timeout the partition waits for (0: none)
  std::vector<std::uint32_t> message_connection_ids;
  std::string state = "starting";

  // SynIC: this partition's VMBus message slot and the messages behind it.
  std::deque<PendingMessage> message_queue;
  bool slot_busy = false;
  bool delivery_scheduled = false;
  // Event flags set but not yet delivered (coalesced until delivery).
  std::set<std::uint32_t> pending_relids;
  std::set<std::uint32_t> pending_connection_ids;
  bool event_scheduled = false;

  KeyValues report;
  proto::FinalReport final_report;
  bool done = false;
  // A message a REORDER fault holds back until the next one passes it.
  std::optional<PendingMessage> held;
};

enum class EventKind {
  kDeliverMessage,
  kDeliverEvent,
  // Scenario faults: an interrupt or a message that arrives on its own
  // schedule (delayed, duplicated, spurious).
  kExtraEvent,
  kDelayedMessage,
};

struct ScheduledEvent {
  ScheduledEvent(std::uint64_t time, std::uint64_t order, EventKind event_kind, PartitionLink* link)
      : time_ns(time), sequence(order), kind(event_kind), target(link) {}

  std::uint64_t time_ns;
  std::uint64_t sequence;  // FIFO among events at the same time
  EventKind kind;
  PartitionLink* target;
  // kExtraEvent: the flag to set; kDelayedMessage: the message.
  std::uint32_t child_relid = 0;
  std::uint32_t connection_id = 0;
  std::shared_ptr<PendingMessage> message;

  bool operator>(const ScheduledEvent& other) const {
    return time_ns != other.time_ns ? time_ns > other.time_ns : sequence > other.sequence;
  }
};

// An interrupt or message fault a script armed that has not used up its count.
struct SignalFault {
  ArmSignalFault rule;
  std::uint32_t remaining;
};

struct MessageFaultRule {
  ArmMessageFault rule;
  std::uint32_t remaining;
};

using wire::connection_id_of;

void set_cloexec(int fd) {
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
}

class Simulation {
 public:
  explicit Simulation(const SimulationConfig& config)
      : config_(config), rng_(config.seed), signals_(io_, SIGINT, SIGTERM) {
    host_.role = proto::PARTITION_HOST;
    host_.name = "vmbus-host";
    guest_.role = proto::PARTITION_GUEST;
    guest_.name = "vmbus-guest";
  }

  RunResult run() {
    RunResult result;
    try {
      setup();
      handshake(host_);
      handshake(guest_);
      if (config_.mode == proto::SCHEDULING_MODE_FREE_RUNNING) {
        loop_free_running();
      } else {
        loop_deterministic();
      }
      if (config_.script != nullptr) {
        final_reports();
      }
      shutdown_partitions();
      result.outcome = RunOutcome::kCompleted;
    } catch (const RunFailure& failure) {
      result.outcome = failure.outcome;
      result.detail = failure.detail;
      note_process_failure(failure);
      kill_partitions();
    }
    try {
      trace_.close();
    } catch (const std::exception& e) {
      if (result.outcome == RunOutcome::kCompleted) {
        result.outcome = RunOutcome::kSetupFailed;
        result.detail = e.what();
      }
    }
    result.host_report = host_.report;
    result.guest_report = guest_.report;
    result.host_final = host_.final_report.host();
    result.guest_final = guest_.final_report.guest();
    result.final_reports = final_reports_;
    result.segment_name = segment_ ? segment_->name() : "";
    result.host_pid = host_.process ? host_.process->pid() : -1;
    result.guest_pid = guest_.process ? guest_.process->pid() : -1;
    result.steps = steps_;
    result.time_ns = now_;
    result.trace_records = trace_.records_written();
    return result;
  }

 private:
  // --- setup and teardown ---------------------------------------------------

  void setup() {
    remove_stale_segments();
    try {
      segment_.emplace(shm::SharedSegment::create(shm::make_unique_segment_name("run"),
                                                  config_.segment_size_bytes));
    } catch (const std::exception& e) {
      throw RunFailure{RunOutcome::kSetupFailed, e.what()};
    }
    if (!config_.trace_path.empty()) {
      proto::TraceHeader header;
      header.set_format_version(trace::kTraceFormatVersion);
      header.set_seed(config_.seed);
      header.set_scenario(config_.scenario_name);
      header.set_mode(config_.mode);
      try {
        trace_.open(config_.trace_path, header);
      } catch (const std::exception& e) {
        throw RunFailure{RunOutcome::kSetupFailed, e.what()};
      }
    }
    signals_.async_wait([this](const boost::system::error_code& error, int signal_number) {
      if (!error) {
        interrupted_by_ = signal_number;
      }
    });
    start_partition(host_, config_.host_binary);
    start_partition(guest_, config_.guest_binary);
  }

  void start_partition(PartitionLink& link, const std::filesystem::path& binary) {
    link.socket = std::make_unique<ipc::LocalSocket>(io_);
    ipc::LocalSocket child_end(io_);
    boost::system::error_code error;
    asio::local::connect_pair(*link.socket, child_end, error);
    if (error) {
      throw RunFailure{RunOutcome::kSetupFailed, "socketpair: " + error.message()};
    }
    // Neither end may leak into the other partition's process: an inherited
    // copy would keep a dead partition's socket open and hide its crash.
    set_cloexec(link.socket->native_handle());
    set_cloexec(child_end.native_handle());
    try {
      link.process = std::make_unique<ChildProcess>(
          binary, std::vector<std::string>{"--ipc-fd", std::to_string(kChildIpcFd)},
          child_end.native_handle());
    } catch (const std::exception& e) {
      throw RunFailure{RunOutcome::kSetupFailed, link.name + ": " + e.what()};
    }
    child_end.close();
    link.reader = std::make_unique<ipc::AsyncFrameReader>(*link.socket, ipc::kDefaultMaxFrameBytes);
    read_next(link);
    trace_process(link, proto::ProcessEvent::KIND_STARTED, "");
  }

  void read_next(PartitionLink& link) {
    link.reader->read_next([this, &link](const ipc::FrameStatus& status, std::string body) {
      if (!status.ok()) {
        link.link_error = status;
        return;
      }
      proto::PartitionToSim frame;
      if (ipc::FrameStatus parsed = ipc::decode_frame_body(body, frame); !parsed.ok()) {
        link.link_error = parsed;
        return;
      }
      link.inbox.push_back(std::move(frame));
      read_next(link);
    });
  }

  void shutdown_partitions() {
    for (PartitionLink* link : {&host_, &guest_}) {
      proto::SimToPartition frame;
      frame.mutable_shutdown()->set_reason("run complete");
      (void)ipc::write_frame(*link->socket, frame);
    }
    for (PartitionLink* link : {&host_, &guest_}) {
      const ChildExit exit =
          link->process->wait_or_kill(static_cast<int>(config_.response_timeout.count()));
      trace_process(*link, proto::ProcessEvent::KIND_EXITED, exit.describe());
      if (exit.signalled || exit.code != 0) {
        throw RunFailure{RunOutcome::kPartitionCrashed,
                         link->name + " " + exit.describe() + " after shutdown"};
      }
    }
  }

  void kill_partitions() {
    for (PartitionLink* link : {&host_, &guest_}) {
      if (link->process) {
        link->process->kill_and_reap();
      }
    }
  }

  void note_process_failure(const RunFailure& failure) {
    proto::TraceRecord record;
    record.set_time_ns(now_);
    record.mutable_note()->set_text(std::string("run ended: ") + run_outcome_name(failure.outcome) +
                                    ": " + failure.detail);
    write_record(record);
  }

  // --- waiting for partitions ----------------------------------------------

  // Throws if any partition's connection has failed.
  void check_links() {
    if (interrupted_by_ != 0) {
      throw RunFailure{RunOutcome::kInterrupted,
                       std::string("interrupted by SIG") + sigabbrev_np(interrupted_by_)};
    }
    for (PartitionLink* link : {&host_, &guest_}) {
      if (!link->link_error || !link->inbox.empty()) {
        continue;
      }
      const ipc::FrameStatus& error = *link->link_error;
      if (error.error == ipc::FrameError::kClosed || error.error == ipc::FrameError::kTruncated ||
          error.error == ipc::FrameError::kIo) {
        const ChildExit exit = link->process->wait_or_kill(1'000);
        trace_process(
            *link,
            exit.signalled ? proto::ProcessEvent::KIND_CRASHED : proto::ProcessEvent::KIND_EXITED,
            exit.describe());
        throw RunFailure{RunOutcome::kPartitionCrashed,
                         link->name + " " + exit.describe() + " while " + link->state + " (step " +
                             std::to_string(steps_) + ", t=" + std::to_string(now_) + "ns)"};
      }
      throw RunFailure{RunOutcome::kProtocolError,
                       link->name + " sent a bad frame while " + link->state + ": " +
                           ipc::frame_error_name(error.error) + ": " + error.detail};
    }
  }

  // The next frame from `link`; runs the event loop until there is one.
  proto::PartitionToSim await_frame(PartitionLink& link) {
    auto timed_out = std::make_shared<bool>(false);
    asio::steady_timer timer(io_);
    timer.expires_after(config_.response_timeout);
    timer.async_wait([timed_out](const boost::system::error_code& error) {
      if (!error) {
        *timed_out = true;
      }
    });
    while (link.inbox.empty()) {
      check_links();
      if (*timed_out) {
        throw RunFailure{RunOutcome::kPartitionHung,
                         link.name + " did not answer within " +
                             std::to_string(config_.response_timeout.count()) + " ms while " +
                             link.state + " (step " + std::to_string(steps_) +
                             ", t=" + std::to_string(now_) + "ns)"};
      }
      io_.run_one();
    }
    timer.cancel();
    return take_frame(link);
  }

  // The next frame from `link`'s inbox, after writing the trace records that
  // ride along with it (they happened before the frame's body).
  proto::PartitionToSim take_frame(PartitionLink& link) {
    proto::PartitionToSim frame = std::move(link.inbox.front());
    link.inbox.pop_front();
    if (frame.has_trace_before()) {
      write_partition_trace(link, frame.trace_before());
      frame.clear_trace_before();
    }
    return frame;
  }

  void write_partition_trace(const PartitionLink& link, const proto::TraceRecords& records) {
    for (const proto::TraceRecord& partition_record : records.records()) {
      proto::TraceRecord record = partition_record;
      record.set_time_ns(now_);
      record.set_partition(link.role);
      write_record(record);
    }
  }

  void send(PartitionLink& link, const proto::SimToPartition& frame) {
    if (ipc::FrameStatus status = ipc::write_frame(*link.socket, frame); !status.ok()) {
      // The peer is gone; find out how (crash vs. exit) from the link.
      link.link_error = ipc::FrameStatus{ipc::FrameError::kIo, status.detail};
      link.inbox.clear();
      check_links();
    }
  }

  [[noreturn]] void protocol_error(PartitionLink& link, const std::string& what) {
    throw RunFailure{RunOutcome::kProtocolError, link.name + " " + what + " while " + link.state};
  }

  void handshake(PartitionLink& link) {
    proto::SimToPartition frame;
    auto* hello = frame.mutable_hello();
    hello->set_ipc_version(ipc::kIpcVersion);
    hello->set_role(link.role);
    hello->set_mode(config_.mode);
    hello->set_segment_name(segment_->name());
    hello->set_segment_size_bytes(config_.segment_size_bytes);
    hello->set_seed(config_.seed);
    hello->set_config(link.role == proto::PARTITION_HOST ? config_.host_config
                                                         : config_.guest_config);
    hello->set_max_frame_bytes(ipc::kDefaultMaxFrameBytes);
    send(link, frame);
    link.state = "starting up";
    proto::PartitionToSim reply = await_frame(link);
    while (reply.has_trace()) {
      dispatch(link, reply);
      reply = await_frame(link);
    }
    if (reply.has_failure()) {
      throw RunFailure{RunOutcome::kPartitionFailed,
                       link.name + " failed to start: " + reply.failure().what()};
    }
    if (!reply.has_hello_ack()) {
      protocol_error(link, "did not answer Hello with HelloAck");
    }
    const proto::HelloAck& ack = reply.hello_ack();
    if (ack.ipc_version() != ipc::kIpcVersion || ack.role() != link.role) {
      protocol_error(link, "answered Hello with the wrong version or role");
    }
    set_ready(link, ack.ready_contexts());
    link.message_connection_ids.assign(ack.message_connection_ids().begin(),
                                       ack.message_connection_ids().end());
    link.state = "idle";
  }

  void set_ready(PartitionLink& link,
                 const google::protobuf::RepeatedPtrField<std::string>& ready) {
    link.ready.assign(ready.begin(), ready.end());
    if (!std::is_sorted(link.ready.begin(), link.ready.end()) ||
        std::adjacent_find(link.ready.begin(), link.ready.end()) != link.ready.end()) {
      protocol_error(link, "reported a ready set that is not sorted and unique");
    }
  }

  PartitionLink& other(const PartitionLink& link) { return &link == &host_ ? guest_ : host_; }

  // --- the deterministic scheduler ------------------------------------------

  void loop_deterministic() {
    RunScript* const script = config_.script;
    while (script != nullptr || !guest_.done) {
      check_links();
      if (script != nullptr) {
        if (std::optional<DueIntervention> due = script->due(now_)) {
          perform(*due);
          continue;
        }
      }
      if (!events_.empty() && events_.top().time_ns <= now_) {
        const ScheduledEvent event = events_.top();
        events_.pop();
        apply_event(event);
        continue;
      }
      std::vector<std::pair<PartitionLink*, std::string>> candidates;
      for (PartitionLink* link : {&guest_, &host_}) {  // "guest:" sorts before "host:"
        for (const std::string& context : link->ready) {
          if (!held(*link, context)) {
            candidates.emplace_back(link, context);
          }
        }
      }
      if (candidates.empty()) {
        // Idle: jump the clock to whatever comes next.
        std::optional<std::uint64_t> next;
        if (!events_.empty()) {
          next = events_.top().time_ns;
        }
        if (script != nullptr) {
          if (const std::optional<std::uint64_t> timed = script->next_time_ns()) {
            next = next ? std::min(*next, *timed) : *timed;
          }
        }
        if (next) {
          now_ = std::max(now_, *next);
          check_time_limit();
          continue;
        }
        if (script != nullptr) {
          if (release_held_messages() || release_held_contexts()) {
            continue;
          }
          return;  // quiet: the scenario's run is over
        }
        throw RunFailure{RunOutcome::kDeadlock,
                         "nothing is ready and nothing is in flight, but the guest has not "
                         "finished; host " +
                             host_.state + ", guest " + guest_.state};
      }
      if (jump_to_wake_time(candidates)) {
        continue;
      }
      check_time_limit();
      if (config_.before_step) {
        config_.before_step(steps_ + 1, host_.process->pid(), guest_.process->pid());
      }
      const auto chosen = static_cast<std::size_t>(rng_.below(candidates.size()));
      trace_scheduler(candidates, chosen);
      grant_step(*candidates[chosen].first, candidates[chosen].second);
      now_ += config_.step_cost_ns;
    }
  }

  // When the only thing ready is a partition's "timer" (a driver waiting for
  // a timeout), jump the clock to its deadline -- or to whatever comes
  // sooner -- instead of stepping through the wait one step at a time.
  // Returns true when the loop should look again (an event came first).
  bool jump_to_wake_time(const std::vector<std::pair<PartitionLink*, std::string>>& candidates) {
    if (candidates.size() != 1 || candidates.front().second != "timer") {
      return false;
    }
    const std::uint64_t wake = candidates.front().first->wake_at_ns;
    if (wake <= now_) {
      return false;
    }
    std::uint64_t next = wake;
    if (!events_.empty()) {
      next = std::min(next, events_.top().time_ns);
    }
    if (config_.script != nullptr) {
      if (const std::optional<std::uint64_t> timed = config_.script->next_time_ns()) {
        next = std::min(next, std::max(now_, *timed));
      }
    }
    now_ = std::max(now_, next);
    check_time_limit();
    return next < wake;
  }

  void check_time_limit() const {
    if (now_ > config_.time_limit_ns) {
      throw RunFailure{RunOutcome::kTimeLimit,
                       "simulated time passed " + std::to_string(config_.time_limit_ns / 1000) +
                           " us before the " +
                           (config_.script != nullptr ? "system went quiet" : "guest finished")};
    }
  }

  // --- scenario steps --------------------------------------------------------

  void perform(const DueIntervention& due) {
    proto::TraceRecord record = record_now();
    auto* event = record.mutable_action();
    event->set_step(due.number);
    event->set_label(due.label);
    event->set_describe(due.describe);
    write_record(record);
    std::string error;
    std::visit([&](const auto& what) { error = carry_out(what, due.number); }, due.what);
    config_.script->intervention_done(now_, error);
  }

  PartitionLink& link_of(Side side) { return side == Side::kHost ? host_ : guest_; }

  std::string carry_out(const NoIntervention&, std::uint32_t) { return ""; }

  std::string carry_out(const RequestAction& request, std::uint32_t) {
    return request_action(link_of(request.side), request.action);
  }

  std::string carry_out(const ArmSignalFault& fault, std::uint32_t) {
    signal_faults_.push_back(SignalFault{fault, std::max<std::uint32_t>(1, fault.count)});
    return "";
  }

  std::string carry_out(const InjectSpuriousInterrupt& spurious, std::uint32_t) {
    const bool to_guest = spurious.direction == Direction::kHostToGuest;
    trace_fault("interrupt_spurious", direction_text(spurious.direction) + " relid " +
                                          std::to_string(spurious.child_relid));
    schedule_extra_event(to_guest ? guest_ : host_, spurious.child_relid,
                         config_.signal_latency_ns);
    return "";
  }

  std::string carry_out(const ArmMessageFault& fault, std::uint32_t) {
    message_faults_.push_back(MessageFaultRule{fault, std::max<std::uint32_t>(1, fault.count)});
    return "";
  }

  std::string carry_out(const CrashPartition& crash_it, std::uint32_t number) {
    crash(link_of(crash_it.side), number);
  }

  std::string carry_out(const HoldContext& hold, std::uint32_t) {
    holds_.push_back(hold_key(hold.side, hold.context));
    return "";
  }

  std::string carry_out(const ReleaseContext& release, std::uint32_t) {
    const std::string key = hold_key(release.side, release.context);
    holds_.erase(std::remove(holds_.begin(), holds_.end(), key), holds_.end());
    return "";
  }

  std::string carry_out(const AdvanceTime& advance, std::uint32_t) {
    now_ += advance.ns;
    return "";
  }

  std::string carry_out(const WriteNote& note, std::uint32_t) {
    proto::TraceRecord record = record_now();
    record.mutable_note()->set_text(note.text);
    write_record(record);
    return "";
  }

  // Sends a scenario action to a partition and waits for its ActionDone.
  std::string request_action(PartitionLink& link, const proto::PartitionAction& action) {
    const std::uint64_t id = ++actions_sent_;
    proto::SimToPartition frame;
    *frame.mutable_action()->mutable_action() = action;
    frame.mutable_action()->set_id(id);
    frame.mutable_action()->set_time_ns(now_);
    const std::string previous_state = link.state;
    link.state = "carrying out scenario action " + std::to_string(id);
    send(link, frame);
    for (;;) {
      proto::PartitionToSim reply = await_frame(link);
      if (reply.has_action_done()) {
        if (reply.action_done().id() != id) {
          protocol_error(link, "finished a scenario action it was not asked for");
        }
        set_ready(link, reply.action_done().ready_contexts());
        link.wake_at_ns = reply.action_done().wake_at_ns();
        link.state = previous_state;
        return reply.action_done().error();
      }
      dispatch(link, reply);
    }
  }

  static std::string hold_key(Side side, const std::string& context) {
    return (side == Side::kHost ? "host:" : "guest:") + context;
  }

  // Whether a scenario holds this context back from the scheduler.
  bool held(const PartitionLink& link, const std::string& context) const {
    if (holds_.empty()) {
      return false;
    }
    const std::string name = (link.role == proto::PARTITION_HOST ? "host:" : "guest:") + context;
    for (const std::string& key : holds_) {
      if (name == key || (name.size() > key.size() && name.compare(0, key.size(), key) == 0 &&
                          name[key.size()] == '/')) {
        return true;
      }
    }
    return false;
  }

  // Held contexts are let go when nothing else can run; the trace says so.
  bool release_held_contexts() {
    bool any_ready = false;
    for (PartitionLink* link : {&guest_, &host_}) {
      for (const std::string& context : link->ready) {
        any_ready = any_ready || held(*link, context);
      }
    }
    if (!any_ready) {
      return false;
    }
    std::string names;
    for (const std::string& key : holds_) {
      names += (names.empty() ? "" : ", ") + key;
    }
    trace_fault("hold_released", names + ": nothing else could run");
    holds_.clear();
    return true;
  }

  [[noreturn]] void crash(PartitionLink& link, std::uint32_t step_number) {
    trace_fault("crash",
                link.name + " killed by the scenario (step " + std::to_string(step_number) + ")");
    const ChildExit exit = link.process->kill_and_reap();
    trace_process(link, proto::ProcessEvent::KIND_CRASHED, exit.describe());
    throw RunFailure{RunOutcome::kPartitionCrashed,
                     link.name + " " + exit.describe() + " while " + link.state + " (step " +
                         std::to_string(steps_) + ", t=" + std::to_string(now_) +
                         "ns; scenario step " + std::to_string(step_number) + " crashed it)"};
  }

  static std::string direction_text(Direction direction) {
    return direction == Direction::kHostToGuest ? "host->guest" : "guest->host";
  }

  void trace_fault(const std::string& kind, const std::string& detail) {
    proto::TraceRecord record = record_now();
    record.mutable_fault()->set_kind(kind);
    record.mutable_fault()->set_detail(detail);
    write_record(record);
  }

  // An interrupt outside the normal path (spurious, duplicated, delayed).
  void schedule_extra_event(PartitionLink& target, std::uint32_t child_relid,
                            std::uint64_t latency_ns) {
    ScheduledEvent event{now_ + latency_ns, next_event_sequence_++, EventKind::kExtraEvent,
                         &target};
    if (target.role == proto::PARTITION_GUEST) {
      event.child_relid = child_relid;
    } else {
      event.connection_id = connection_id_of(child_relid);
    }
    events_.push(event);
  }

  // The armed interrupt fault that applies to this signal, if any.
  SignalFault* signal_fault_for(const PartitionLink& target, std::uint32_t connection_id,
                                std::uint32_t relid) {
    const Direction direction =
        target.role == proto::PARTITION_GUEST ? Direction::kHostToGuest : Direction::kGuestToHost;
    for (SignalFault& fault : signal_faults_) {
      if (fault.remaining == 0 || fault.rule.direction != direction) {
        continue;
      }
      const std::uint32_t only = fault.rule.child_relid;
      if (only != 0 &&
          (direction == Direction::kHostToGuest ? relid != only
                                                : connection_id != connection_id_of(only))) {
        continue;
      }
      return &fault;
    }
    return nullptr;
  }

  MessageFaultRule* message_fault_for(const PartitionLink& sender, const std::string& payload) {
    const Direction direction =
        sender.role == proto::PARTITION_HOST ? Direction::kHostToGuest : Direction::kGuestToHost;
    std::uint32_t msgtype = 0;
    if (payload.size() >= sizeof(msgtype)) {
      std::memcpy(&msgtype, payload.data(), sizeof(msgtype));
    }
    for (MessageFaultRule& rule : message_faults_) {
      if (rule.remaining == 0 || rule.rule.direction != direction) {
        continue;
      }
      if (rule.rule.msgtype && *rule.rule.msgtype != msgtype) {
        continue;
      }
      return &rule;
    }
    return nullptr;
  }

  // Queues a message for `target` as a post would (the SynIC slot model).
  void enqueue_message(PartitionLink& target, PendingMessage message) {
    target.message_queue.push_back(std::move(message));
    if (!target.slot_busy && !target.delivery_scheduled) {
      target.delivery_scheduled = true;
      schedule_or_deliver(EventKind::kDeliverMessage, target, config_.message_latency_ns);
    }
  }

  // A reordered message still held when the system went quiet is let go
  // (nothing came after it to overtake it). Returns whether any was.
  bool release_held_messages() {
    bool released = false;
    for (PartitionLink* link : {&host_, &guest_}) {
      if (link->held) {
        trace_fault("message_released",
                    "no later message overtook it; delivered to " + link->name + " now");
        enqueue_message(*link, std::move(*link->held));
        link->held.reset();
        released = true;
      }
    }
    return released;
  }

  void final_reports() {
    for (PartitionLink* link : {&host_, &guest_}) {
      proto::SimToPartition frame;
      frame.mutable_final_report();
      link->state = "writing its final report";
      send(*link, frame);
      for (;;) {
        proto::PartitionToSim reply = await_frame(*link);
        if (reply.has_report() && reply.report().has_final_report()) {
          link->final_report = reply.report().final_report();
          break;
        }
        dispatch(*link, reply);
      }
    }
    final_reports_ = true;
  }

  void grant_step(PartitionLink& link, const std::string& context) {
    ++steps_;
    link.state = "running step " + std::to_string(steps_) + " of context '" + context + "'";
    proto::SimToPartition frame;
    frame.mutable_step()->set_step_number(steps_);
    frame.mutable_step()->set_context(context);
    frame.mutable_step()->set_time_ns(now_);
    send(link, frame);
    for (;;) {
      proto::PartitionToSim reply = await_frame(link);
      if (reply.has_step_done()) {
        if (reply.step_done().step_number() != steps_) {
          protocol_error(link, "finished a step it was not granted");
        }
        set_ready(link, reply.step_done().ready_contexts());
        link.wake_at_ns = reply.step_done().wake_at_ns();
        break;
      }
      dispatch(link, reply);
    }
    link.state = "idle after step " + std::to_string(steps_) + " of context '" + context + "'";
  }

  // Deliveries wait for the partition's acknowledgement in deterministic
  // mode, so the new ready set is known before the next scheduling choice.
  void await_delivery_ack(PartitionLink& link) {
    if (config_.mode != proto::SCHEDULING_MODE_DETERMINISTIC) {
      return;
    }
    for (;;) {
      proto::PartitionToSim reply = await_frame(link);
      if (reply.has_delivery_ack()) {
        set_ready(link, reply.delivery_ack().ready_contexts());
        link.wake_at_ns = reply.delivery_ack().wake_at_ns();
        return;
      }
      dispatch(link, reply);
    }
  }

  void schedule(EventKind kind, PartitionLink& target, std::uint64_t latency_ns) {
    std::uint64_t jitter = 0;
    if (config_.latency_jitter_ns > 0) {
      jitter = rng_.below(config_.latency_jitter_ns);
    }
    events_.push(ScheduledEvent{now_ + latency_ns + jitter, next_event_sequence_++, kind, &target});
  }

  void apply_event(const ScheduledEvent& event) {
    PartitionLink& target = *event.target;
    switch (event.kind) {
      case EventKind::kDeliverMessage:
        deliver_next_message(target);
        break;
      case EventKind::kDeliverEvent:
        deliver_events(target);
        break;
      case EventKind::kExtraEvent:
        // Merges with an interrupt already on its way, as a real one would.
        if (event.child_relid != 0) {
          target.pending_relids.insert(event.child_relid);
        }
        if (event.connection_id != 0) {
          target.pending_connection_ids.insert(event.connection_id);
        }
        if (!target.event_scheduled) {
          deliver_events(target);
        }
        break;
      case EventKind::kDelayedMessage:
        enqueue_message(target, *event.message);
        break;
    }
  }

  // --- SynIC -----------------------------------------------------------------

  void deliver_next_message(PartitionLink& target) {
    target.delivery_scheduled = false;
    VMBUS_CHECK(!target.slot_busy && !target.message_queue.empty(),
                "message delivery to a busy slot or from an empty queue");
    PendingMessage message = std::move(target.message_queue.front());
    target.message_queue.pop_front();
    const bool msg_pending = !target.message_queue.empty();

    wire::HvMessage slot{};
    slot.message_type = wire::kHvMessageTypeVmbus;
    slot.payload_size = static_cast<std::uint8_t>(message.payload.size());
    slot.message_flags = msg_pending ? wire::kHvMessageFlagPending : 0;
    slot.sender = message.connection_id;
    std::memcpy(slot.payload, message.payload.data(), message.payload.size());

    trace_message(proto::MessageEvent::STAGE_DELIVERED, other(target), target,
                  message.connection_id, message.payload, "", msg_pending);
    target.slot_busy = true;
    proto::SimToPartition frame;
    auto* delivery = frame.mutable_deliver_message();
    delivery->set_sint(wire::kVmbusMessageSint);
    delivery->set_hv_message(reinterpret_cast<const char*>(&slot), sizeof(slot));
    delivery->set_time_ns(now_);
    send(target, frame);
    await_delivery_ack(target);
  }

  void deliver_events(PartitionLink& target) {
    target.event_scheduled = false;
    proto::SimToPartition frame;
    auto* delivery = frame.mutable_deliver_event();
    for (std::uint32_t relid : target.pending_relids) {
      delivery->add_child_relids(relid);
      trace_signal(proto::SignalRecord::STAGE_DELIVERED, other(target), target, 0, relid);
    }
    for (std::uint32_t id : target.pending_connection_ids) {
      delivery->add_connection_ids(id);
      trace_signal(proto::SignalRecord::STAGE_DELIVERED, other(target), target, id, 0);
    }
    target.pending_relids.clear();
    target.pending_connection_ids.clear();
    delivery->set_time_ns(now_);
    send(target, frame);
    await_delivery_ack(target);
  }

  std::uint32_t post_message(PartitionLink& sender, const proto::PostMessage& post) {
    PartitionLink& target = other(sender);
    const std::string& payload = post.payload();
    auto reject = [&](std::uint32_t status, const std::string& reason) {
      trace_message(proto::MessageEvent::STAGE_REJECTED, sender, target, post.connection_id(),
                    payload, reason, false);
      return status;
    };
    if (post.message_type() != wire::kHvMessageTypeVmbus) {
      return reject(wire::kHvStatusInvalidParameter,
                    "message type " + std::to_string(post.message_type()) + " is not 1 (VMBus)");
    }
    if (payload.size() > wire::kHvMessagePayloadMaxBytes) {
      return reject(wire::kHvStatusInvalidParameter,
                    "payload of " + std::to_string(payload.size()) + " bytes exceeds 240");
    }
    if (sender.role == proto::PARTITION_GUEST &&
        std::find(target.message_connection_ids.begin(), target.message_connection_ids.end(),
                  post.connection_id()) == target.message_connection_ids.end()) {
      return reject(wire::kHvStatusInvalidConnectionId,
                    "no port for connection id " + std::to_string(post.connection_id()));
    }
    if (target.message_queue.size() >= kMessageQueueDepth) {
      return reject(wire::kHvStatusInsufficientBuffers, "message queue full");
    }
    trace_message(proto::MessageEvent::STAGE_POSTED, sender, target, post.connection_id(), payload,
                  "", false);
    PendingMessage message{post.connection_id(), payload};
    bool duplicate = false;
    if (MessageFaultRule* rule = message_fault_for(sender, payload)) {
      --rule->remaining;
      const std::string what = arrow_text(sender, target) + " " + describe_message(payload);
      switch (rule->rule.kind) {
        case ArmMessageFault::Kind::kDrop:
          trace_fault("message_dropped", what);
          return wire::kHvStatusSuccess;
        case ArmMessageFault::Kind::kDelay: {
          trace_fault("message_delayed",
                      what + " by " + std::to_string(rule->rule.delay_us) + " us");
          ScheduledEvent event{now_ + config_.message_latency_ns + rule->rule.delay_us * 1000,
                               next_event_sequence_++, EventKind::kDelayedMessage, &target};
          event.message = std::make_shared<PendingMessage>(std::move(message));
          events_.push(event);
          return wire::kHvStatusSuccess;
        }
        case ArmMessageFault::Kind::kDuplicate:
          trace_fault("message_duplicated", what);
          duplicate = true;
          break;
        case ArmMessageFault::Kind::kReorder:
          if (!target.held) {
            trace_fault("message_reordered", what + " held back behind the next message");
            target.held = std::move(message);
            return wire::kHvStatusSuccess;
          }
          break;
        case ArmMessageFault::Kind::kCorrupt: {
          const std::string& bytes = rule->rule.corrupt_bytes;
          const std::size_t offset = rule->rule.corrupt_offset;
          std::size_t written = 0;
          for (; written < bytes.size() && offset + written < message.payload.size(); ++written) {
            message.payload[offset + written] = bytes[written];
          }
          trace_fault("message_corrupted", what + ": " + std::to_string(written) +
                                               " bytes overwritten at offset " +
                                               std::to_string(offset));
          break;
        }
        default:
          break;
      }
    }
    const bool queued = target.slot_busy || target.delivery_scheduled;
    enqueue_message(target, message);
    if (duplicate) {
      enqueue_message(target, message);
    }
    if (target.held) {  // the held message comes after the one that overtook it
      enqueue_message(target, std::move(*target.held));
      target.held.reset();
    }
    if (queued) {
      trace_message(proto::MessageEvent::STAGE_QUEUED, sender, target, post.connection_id(),
                    payload, "", false);
    }
    return wire::kHvStatusSuccess;
  }

  void signal_event(PartitionLink& sender, const proto::SignalEvent& signal) {
    PartitionLink& target = other(sender);
    const bool to_guest = target.role == proto::PARTITION_GUEST;
    const std::uint32_t connection_id = to_guest ? 0 : signal.connection_id();
    const std::uint32_t relid = to_guest ? signal.child_relid() : 0;
    if (to_guest && relid == 0) {
      // Bit 0 of SINT2's flags is reserved for the channel-protocol message.
      trace_signal(proto::SignalRecord::STAGE_REJECTED, sender, target, connection_id, relid);
      return;
    }
    if (SignalFault* fault = signal_fault_for(target, connection_id, relid)) {
      --fault->remaining;
      if (fault->rule.kind != ArmSignalFault::Kind::kDuplicate) {
        // The sender did signal; the normal path below traces it otherwise.
        trace_signal(proto::SignalRecord::STAGE_SIGNALLED, sender, target, connection_id, relid);
      }
      const std::string what =
          arrow_text(sender, target) + " relid " +
          std::to_string(to_guest ? relid : wire::relid_of_connection_id(connection_id));
      switch (fault->rule.kind) {
        case ArmSignalFault::Kind::kDrop:
          trace_fault("interrupt_dropped", what);
          return;
        case ArmSignalFault::Kind::kDelay:
          trace_fault("interrupt_delayed",
                      what + " by " + std::to_string(fault->rule.delay_us) + " us");
          schedule_extra_event(target,
                               to_guest ? relid : wire::relid_of_connection_id(connection_id),
                               config_.signal_latency_ns + fault->rule.delay_us * 1000);
          return;
        default:
          trace_fault("interrupt_duplicated", what);
          schedule_extra_event(target,
                               to_guest ? relid : wire::relid_of_connection_id(connection_id),
                               2 * config_.signal_latency_ns);
          break;  // and delivered normally too
      }
    }
    const bool coalesced = target.event_scheduled;
    if (to_guest) {
      target.pending_relids.insert(relid);
    } else {
      target.pending_connection_ids.insert(connection_id);
    }
    trace_signal(
        coalesced ? proto::SignalRecord::STAGE_COALESCED : proto::SignalRecord::STAGE_SIGNALLED,
        sender, target, connection_id, relid);
    if (!coalesced) {
      target.event_scheduled = true;
      schedule_or_deliver(EventKind::kDeliverEvent, target, config_.signal_latency_ns);
    }
  }

  void end_of_message(PartitionLink& link, const proto::EndOfMessage& eom) {
    if (eom.sint() != wire::kVmbusMessageSint || !link.slot_busy) {
      protocol_error(
          link, "sent EOM for SINT " + std::to_string(eom.sint()) + " with no message in its slot");
    }
    link.slot_busy = false;
    if (!link.message_queue.empty() && !link.delivery_scheduled) {
      link.delivery_scheduled = true;
      schedule_or_deliver(EventKind::kDeliverMessage, link, config_.message_latency_ns);
    }
  }

  // Deterministic mode: an event in simulated time. Free-running: now.
  void schedule_or_deliver(EventKind kind, PartitionLink& target, std::uint64_t latency_ns) {
    if (config_.mode == proto::SCHEDULING_MODE_DETERMINISTIC) {
      schedule(kind, target, latency_ns);
    } else {
      pending_free_deliveries_.push_back(
          ScheduledEvent{now_, next_event_sequence_++, kind, &target});
    }
  }

  // --- frames a partition sends on its own ----------------------------------

  void dispatch(PartitionLink& link, const proto::PartitionToSim& frame) {
    switch (frame.body_case()) {
      case proto::PartitionToSim::kPostMessage: {
        const std::uint32_t status = post_message(link, frame.post_message());
        proto::SimToPartition reply;
        reply.mutable_post_result()->set_hv_status(status);
        send(link, reply);
        break;
      }
      case proto::PartitionToSim::kSignalEvent:
        signal_event(link, frame.signal_event());
        break;
      case proto::PartitionToSim::kEndOfMessage:
        end_of_message(link, frame.end_of_message());
        break;
      case proto::PartitionToSim::kTrace:
        write_partition_trace(link, frame.trace());
        break;
      case proto::PartitionToSim::kReport:
        for (const proto::KeyValue& kv : frame.report().values()) {
          link.report.emplace_back(kv.key(), kv.value());
        }
        if (frame.report().done()) {
          if (link.role != proto::PARTITION_GUEST) {
            protocol_error(link, "reported done (only the guest ends a run)");
          }
          link.done = true;
        }
        break;
      case proto::PartitionToSim::kFailure:
        throw RunFailure{RunOutcome::kPartitionFailed,
                         link.name + " failed while " + link.state + ": " + frame.failure().what()};
      default:
        protocol_error(link, "sent an unexpected frame (body " +
                                 std::to_string(static_cast<int>(frame.body_case())) + ")");
    }
  }

  // --- free-running mode ----------------------------------------------------

  void loop_free_running() {
    auto idle_since_frames = frames_seen_;
    auto timed_out = std::make_shared<bool>(false);
    asio::steady_timer timer(io_);
    auto arm = [&] {
      *timed_out = false;
      timer.expires_after(config_.response_timeout);
      timer.async_wait([flag = timed_out](const boost::system::error_code& error) {
        if (!error) {
          *flag = true;
        }
      });
    };
    arm();
    while (!guest_.done) {
      check_links();
      bool progressed = false;
      for (PartitionLink* link : {&host_, &guest_}) {
        while (!link->inbox.empty() && !guest_.done) {
          proto::PartitionToSim frame = take_frame(*link);
          ++frames_seen_;
          now_ += config_.step_cost_ns;
          link->state = "running free";
          dispatch(*link, frame);
          progressed = true;
        }
      }
      while (!pending_free_deliveries_.empty()) {
        const ScheduledEvent event = pending_free_deliveries_.front();
        pending_free_deliveries_.pop_front();
        apply_event(event);
      }
      if (progressed) {
        continue;
      }
      if (frames_seen_ != idle_since_frames) {
        idle_since_frames = frames_seen_;
        timer.cancel();
        arm();
      }
      if (*timed_out) {
        throw RunFailure{RunOutcome::kPartitionHung,
                         "no partition sent anything for " +
                             std::to_string(config_.response_timeout.count()) +
                             " ms and the guest has not finished; host " + host_.state +
                             ", guest " + guest_.state};
      }
      io_.run_one();
    }
    timer.cancel();
  }

  // --- trace ------------------------------------------------------------------

  void write_record(proto::TraceRecord& record) {
    trace_.write(record);
    if (config_.script != nullptr) {
      config_.script->on_record(record);
    }
  }

  static std::string arrow_text(const PartitionLink& from, const PartitionLink& to) {
    return std::string(from.role == proto::PARTITION_HOST ? "host" : "guest") + "->" +
           (to.role == proto::PARTITION_HOST ? "host" : "guest");
  }

  static std::string describe_message(const std::string& payload) {
    return wire::describe_payload(std::as_bytes(std::span(payload.data(), payload.size())));
  }

  proto::TraceRecord record_now() const {
    proto::TraceRecord record;
    record.set_time_ns(now_);
    return record;
  }

  void trace_scheduler(const std::vector<std::pair<PartitionLink*, std::string>>& candidates,
                       std::size_t chosen) {
    proto::TraceRecord record = record_now();
    auto* event = record.mutable_scheduler();
    event->set_step_number(steps_ + 1);
    for (const auto& [link, context] : candidates) {
      event->add_ready((link->role == proto::PARTITION_HOST ? "host:" : "guest:") + context);
    }
    event->set_chosen(static_cast<std::uint32_t>(chosen));
    write_record(record);
  }

  void trace_message(proto::MessageEvent::Stage stage, const PartitionLink& from,
                     const PartitionLink& to, std::uint32_t connection_id,
                     const std::string& payload, const std::string& reason, bool msg_pending) {
    proto::TraceRecord record = record_now();
    auto* event = record.mutable_message();
    event->set_stage(stage);
    event->set_from(from.role);
    event->set_to(to.role);
    event->set_connection_id(connection_id);
    const auto bytes = std::as_bytes(std::span(payload.data(), payload.size()));
    if (payload.size() >= 4) {
      std::uint32_t msgtype = 0;
      std::memcpy(&msgtype, payload.data(), sizeof(msgtype));
      event->set_msgtype(msgtype);
    }
    event->set_decoded(wire::describe_payload(bytes));
    event->set_payload(payload);
    event->set_reason(reason);
    event->set_msg_pending(msg_pending);
    write_record(record);
  }

  void trace_signal(proto::SignalRecord::Stage stage, const PartitionLink& from,
                    const PartitionLink& to, std::uint32_t connection_id, std::uint32_t relid) {
    proto::TraceRecord record = record_now();
    auto* event = record.mutable_signal();
    event->set_stage(stage);
    event->set_from(from.role);
    event->set_to(to.role);
    event->set_connection_id(connection_id);
    event->set_child_relid(relid);
    write_record(record);
  }

  void trace_process(const PartitionLink& link, proto::ProcessEvent::Kind kind,
                     const std::string& detail) {
    proto::TraceRecord record = record_now();
    auto* event = record.mutable_process();
    event->set_kind(kind);
    event->set_partition(link.role);
    event->set_detail(detail);
    write_record(record);
  }

  const SimulationConfig& config_;
  asio::io_context io_;
  base::Prng rng_;
  asio::signal_set signals_;
  int interrupted_by_ = 0;
  std::optional<shm::SharedSegment> segment_;
  trace::TraceWriter trace_;
  PartitionLink host_;
  PartitionLink guest_;
  std::priority_queue<ScheduledEvent, std::vector<ScheduledEvent>, std::greater<>> events_;
  std::deque<ScheduledEvent> pending_free_deliveries_;
  std::uint64_t next_event_sequence_ = 0;
  std::uint64_t now_ = 0;
  std::uint64_t steps_ = 0;
  std::uint64_t frames_seen_ = 0;
  // Scenario state.
  std::vector<SignalFault> signal_faults_;
  std::vector<MessageFaultRule> message_faults_;
  std::vector<std::string> holds_;  // "guest:kmcl/1/passive", ...
  std::uint64_t actions_sent_ = 0;
  bool final_reports_ = false;
};

bool process_exists(pid_t pid) {
  return ::kill(pid, 0) == 0 || errno == EPERM;
}

}  // namespace

const char* run_outcome_name(RunOutcome outcome) {
  switch (outcome) {
    case RunOutcome::kCompleted:
      return "completed";
    case RunOutcome::kDeadlock:
      return "deadlock";
    case RunOutcome::kTimeLimit:
      return "time_limit";
    case RunOutcome::kPartitionFailed:
      return "partition_failed";
    case RunOutcome::kPartitionCrashed:
      return "partition_crashed";
    case RunOutcome::kPartitionHung:
      return "partition_hung";
    case RunOutcome::kProtocolError:
      return "protocol_error";
    case RunOutcome::kInterrupted:
      return "interrupted";
    case RunOutcome::kSetupFailed:
      return "setup_failed";
  }
  return "unknown";
}

int RunResult::exit_code() const {
  switch (outcome) {
    case RunOutcome::kCompleted:
      return 0;
    case RunOutcome::kInterrupted:
      return kExitInterrupted;
    default:
      return kExitSimulatorFailure;
  }
}

std::optional<std::string> find_value(const KeyValues& values, const std::string& key) {
  for (const auto& [k, v] : values) {
    if (k == key) {
      return v;
    }
  }
  return std::nullopt;
}

std::string RunResult::host_value(const std::string& key) const {
  return find_value(host_report, key).value_or("");
}
std::string RunResult::guest_value(const std::string& key) const {
  return find_value(guest_report, key).value_or("");
}

std::vector<std::string> remove_stale_segments() {
  std::vector<std::string> removed;
  DIR* dir = ::opendir("/dev/shm");
  if (dir == nullptr) {
    return removed;
  }
  const std::string prefix = shm::kSegmentNamePrefix;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    if (name.rfind(prefix, 0) != 0) {
      continue;
    }
    // "vmbus-sim-<pid>-<sequence>-<tag>"
    const std::size_t pid_end = name.find('-', prefix.size());
    if (pid_end == std::string::npos) {
      continue;
    }
    const std::string pid_text = name.substr(prefix.size(), pid_end - prefix.size());
    if (pid_text.empty() || pid_text.find_first_not_of("0123456789") != std::string::npos ||
        pid_text.size() > 9) {
      continue;
    }
    const auto pid = static_cast<pid_t>(std::stol(pid_text));
    if (pid > 0 && !process_exists(pid) && shm::remove_segment(name)) {
      removed.push_back(name);
    }
  }
  ::closedir(dir);
  return removed;
}

RunResult run_simulation(const SimulationConfig& config) {
  return Simulation(config).run();
}

}  // namespace vmbus::hypervisor
