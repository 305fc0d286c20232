#include "vmbus/hv/simulation.h"

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
#include "vmbus/hv/child_process.h"
#include "vmbus/hv/trace_writer.h"
#include "vmbus/ipc/asio.h"
#include "vmbus/ipc/frame.h"
#include "vmbus/platform/ipc_version.h"
#include "vmbus/platform/partition.h"
#include "vmbus/shm/segment.h"
#include "vmbus/wire/codec.h"
#include "vmbus/wire/synic.h"

namespace vmbus::hv {
namespace {

namespace asio = boost::asio;

// SynIC parameters of the model (shared/reference/vmbus-wire.md section 7).
constexpr std::uint32_t kVmbusSint = 2;
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
  bool done = false;
};

enum class EventKind { kDeliverMessage, kDeliverEvent };

struct ScheduledEvent {
  std::uint64_t time_ns;
  std::uint64_t sequence;  // FIFO among events at the same time
  EventKind kind;
  PartitionLink* target;

  bool operator>(const ScheduledEvent& other) const {
    return time_ns != other.time_ns ? time_ns > other.time_ns : sequence > other.sequence;
  }
};

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
      header.set_format_version(kTraceFormatVersion);
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
    trace_.write(record);
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
      trace_.write(record);
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
    hello->set_ipc_version(platform::kIpcVersion);
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
    if (ack.ipc_version() != platform::kIpcVersion || ack.role() != link.role) {
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
    while (!guest_.done) {
      check_links();
      if (!events_.empty() && events_.top().time_ns <= now_) {
        const ScheduledEvent event = events_.top();
        events_.pop();
        apply_event(event);
        continue;
      }
      std::vector<std::pair<PartitionLink*, std::string>> candidates;
      for (PartitionLink* link : {&guest_, &host_}) {  // "guest:" sorts before "host:"
        for (const std::string& context : link->ready) {
          candidates.emplace_back(link, context);
        }
      }
      if (candidates.empty()) {
        if (events_.empty()) {
          throw RunFailure{RunOutcome::kDeadlock,
                           "nothing is ready and nothing is in flight, but the guest has not "
                           "finished; host " +
                               host_.state + ", guest " + guest_.state};
        }
        now_ = events_.top().time_ns;
        continue;
      }
      if (now_ > config_.time_limit_ns) {
        throw RunFailure{RunOutcome::kTimeLimit, "simulated time passed " +
                                                     std::to_string(config_.time_limit_ns) +
                                                     "ns before the guest finished"};
      }
      if (config_.before_step) {
        config_.before_step(steps_ + 1, host_.process->pid(), guest_.process->pid());
      }
      const auto chosen = static_cast<std::size_t>(rng_.below(candidates.size()));
      trace_scheduler(candidates, chosen);
      grant_step(*candidates[chosen].first, candidates[chosen].second);
      now_ += config_.step_cost_ns;
    }
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
    if (event.kind == EventKind::kDeliverMessage) {
      deliver_next_message(target);
    } else {
      deliver_events(target);
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
    delivery->set_sint(kVmbusSint);
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
      return reject(platform::kHvStatusInvalidParameter,
                    "message type " + std::to_string(post.message_type()) + " is not 1 (VMBus)");
    }
    if (payload.size() > wire::kHvMessagePayloadMaxBytes) {
      return reject(platform::kHvStatusInvalidParameter,
                    "payload of " + std::to_string(payload.size()) + " bytes exceeds 240");
    }
    if (sender.role == proto::PARTITION_GUEST &&
        std::find(target.message_connection_ids.begin(), target.message_connection_ids.end(),
                  post.connection_id()) == target.message_connection_ids.end()) {
      return reject(platform::kHvStatusInvalidConnectionId,
                    "no port for connection id " + std::to_string(post.connection_id()));
    }
    if (target.message_queue.size() >= kMessageQueueDepth) {
      return reject(platform::kHvStatusInsufficientBuffers, "message queue full");
    }
    trace_message(proto::MessageEvent::STAGE_POSTED, sender, target, post.connection_id(), payload,
                  "", false);
    target.message_queue.push_back(PendingMessage{post.connection_id(), payload});
    if (target.slot_busy || target.delivery_scheduled) {
      trace_message(proto::MessageEvent::STAGE_QUEUED, sender, target, post.connection_id(),
                    payload, "", false);
    } else {
      target.delivery_scheduled = true;
      schedule_or_deliver(EventKind::kDeliverMessage, target, config_.message_latency_ns);
    }
    return platform::kHvStatusSuccess;
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
    if (eom.sint() != kVmbusSint || !link.slot_busy) {
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
    trace_.write(record);
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
    trace_.write(record);
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
    trace_.write(record);
  }

  void trace_process(const PartitionLink& link, proto::ProcessEvent::Kind kind,
                     const std::string& detail) {
    proto::TraceRecord record = record_now();
    auto* event = record.mutable_process();
    event->set_kind(kind);
    event->set_partition(link.role);
    event->set_detail(detail);
    trace_.write(record);
  }

  const SimulationConfig& config_;
  asio::io_context io_;
  base::Prng rng_;
  asio::signal_set signals_;
  int interrupted_by_ = 0;
  std::optional<shm::SharedSegment> segment_;
  TraceWriter trace_;
  PartitionLink host_;
  PartitionLink guest_;
  std::priority_queue<ScheduledEvent, std::vector<ScheduledEvent>, std::greater<>> events_;
  std::deque<ScheduledEvent> pending_free_deliveries_;
  std::uint64_t next_event_sequence_ = 0;
  std::uint64_t now_ = 0;
  std::uint64_t steps_ = 0;
  std::uint64_t frames_seen_ = 0;
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

namespace {
std::string find_value(const KeyValues& values, const std::string& key) {
  for (const auto& [k, v] : values) {
    if (k == key) {
      return v;
    }
  }
  return "";
}
}  // namespace

std::string RunResult::host_value(const std::string& key) const {
  return find_value(host_report, key);
}
std::string RunResult::guest_value(const std::string& key) const {
  return find_value(guest_report, key);
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

}  // namespace vmbus::hv
