#include "vmbus/hypervisor/simulation.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <dirent.h>
#include <optional>
#include <signal.h>
#include <span>
#include <stdexcept>
#include <sys/types.h>
#include <variant>

#include "vmbus/base/build_info.h"
#include "vmbus/base/prng.h"
#include "vmbus/hypervisor/effect.h"
#include "vmbus/hypervisor/event_queue.h"
#include "vmbus/hypervisor/faults.h"
#include "vmbus/hypervisor/interrupt.h"
#include "vmbus/hypervisor/scheduler.h"
#include "vmbus/hypervisor/synic.h"
#include "vmbus/ipc/driver_slot.h"
#include "vmbus/ipc/frame.h"
#include "vmbus/ipc/version.h"
#include "vmbus/shm/segment.h"
#include "vmbus/trace/writer.h"
#include "vmbus/wire/codec.h"
#include "vmbus/wire/synic.h"

#include "partition_link.h"

namespace vmbus::hypervisor {
namespace {

// One run: the loop that glues the hypervisor's units together. The pure
// units decide (the scheduler what runs, the SynIC and the fault rules what
// crosses and when); this class carries out what they decide -- it sends the
// frames, waits for the partitions, and stamps and writes every trace record.
class Simulation final : private LinkObserver {
 public:
  explicit Simulation(const SimulationConfig& config)
      : config_(config),
        script_(config.script),
        prng_(base::stream_seed(config.seed, "hypervisor")),
        links_(config.response_timeout, *this),
        synic_(SynicLatency{config.message_latency_ns, config.signal_latency_ns}),
        faults_(SynicLatency{config.message_latency_ns, config.signal_latency_ns}) {}

  RunResult run() {
    RunResult result;
    try {
      set_up();
      say_hello(Side::kHost);
      say_hello(Side::kGuest);
      if (config_.mode == proto::SCHEDULING_MODE_FREE_RUNNING) {
        loop_free_running();
      } else {
        loop_deterministic();
      }
      if (script_ != nullptr) {
        collect_final_reports();
      }
      links_.shut_down();
      result.outcome = RunOutcome::kCompleted;
    } catch (const RunFailure& failure) {
      result.outcome = failure.outcome;
      result.detail = failure.detail;
      // A partition that died or stopped in a loaded driver's code: the
      // driver failed, not the simulator.
      if (std::optional<DriverFault> fault = driver_fault(failure)) {
        result.outcome = RunOutcome::kDriverFault;
        result.detail = fault->describe();
        result.driver_fault = std::move(fault);
      }
      note(std::string("run ended: ") + run_outcome_name(result.outcome) + ": " + result.detail);
      links_.kill_all();
    }
    try {
      trace_.close();
    } catch (const std::exception& e) {
      if (result.outcome == RunOutcome::kCompleted) {
        result.outcome = RunOutcome::kSetupFailed;
        result.detail = e.what();
      }
    }
    fill_in(result);
    return result;
  }

 private:
  // --- the deterministic loop ------------------------------------------------
  //
  // One turn does exactly one thing, in this order of precedence: a due
  // intervention, a due event, a scheduling decision. The loop ends when
  // the system is quiet -- with a script, the scenario's end; without one,
  // once the guest has reported done and what was still under way has
  // drained (the host reads the guest's last completions, so its report is
  // whole), or when the time limit passes during that drain.

  void loop_deterministic() {
    for (;;) {
      if (script_ == nullptr && guest_done_ && queue_.now_ns() > config_.time_limit_ns) {
        return;
      }
      links_.check();
      if (script_ != nullptr && script_->stop_requested()) {
        throw RunFailure{RunOutcome::kInterrupted, "stopped by its script (quit in step mode)"};
      }
      if (run_due_intervention()) {
        continue;
      }
      if (deliver_due_event()) {
        continue;
      }
      if (!schedule_one()) {
        return;  // quiet: the scenario's run is over
      }
    }
  }

  bool run_due_intervention() {
    if (script_ == nullptr) {
      return false;
    }
    std::optional<DueIntervention> due = script_->due(queue_.now_ns());
    if (!due) {
      return false;
    }
    perform(*due);
    return true;
  }

  bool deliver_due_event() {
    std::optional<Event> event = queue_.pop_due();
    if (!event) {
      return false;
    }
    execute(synic_.on_event(*event));
    return true;
  }

  // Returns false when nothing can run, nothing is due and nothing is held:
  // the run is over.
  bool schedule_one() {
    Choice choice = scheduler_.choose(queue_.now_ns(), queue_.next_time_ns(),
                                      next_timed_intervention_ns(), prng_);
    if (choice.kind == Choice::Kind::kStep) {
      if (const proto::PinnedDecision* decision = pinned_for_next_step()) {
        pin(choice, *decision);
      }
    }
    switch (choice.kind) {
      case Choice::Kind::kStep:
        run_step(choice);
        return true;
      case Choice::Kind::kAdvance:
        queue_.advance_to(choice.run_at_ns);
        check_time_limit();
        return true;
      case Choice::Kind::kIdle:
        return release_what_is_held();
    }
    return false;
  }

  // The decision pinned for the step about to run, if any: a recorded
  // schedule's next one, or the scenario pin naming this step.
  const proto::PinnedDecision* pinned_for_next_step() {
    const auto& schedule = config_.schedule;
    if (schedule.empty() || schedule.front().step() == 0) {
      return steps_ < schedule.size() ? &schedule[steps_] : nullptr;
    }
    // Pins by step number, in increasing order: skip those behind (a
    // malformed list never makes one fire twice).
    while (next_pin_ < schedule.size() && schedule[next_pin_].step() <= steps_) {
      ++next_pin_;
    }
    if (next_pin_ < schedule.size() && schedule[next_pin_].step() == steps_ + 1) {
      return &schedule[next_pin_++];
    }
    return nullptr;
  }

  // Overrides the seed's pick with the pinned decision; the draw has been
  // made all the same (see SimulationConfig::schedule).
  void pin(Choice& choice, const proto::PinnedDecision& decision) const {
    const auto at =
        std::find(choice.candidates.begin(), choice.candidates.end(), decision.context());
    if (at == choice.candidates.end()) {
      std::string ready;
      for (const std::string& candidate : choice.candidates) {
        ready += (ready.empty() ? "" : ", ") + candidate;
      }
      const std::string which =
          decision.step() != 0
              ? "the scenario's pin at step " + std::to_string(decision.step())
              : "the schedule's decision at record " + std::to_string(decision.record()) +
                    " (step " + std::to_string(steps_ + 1) + ")";
      throw RunFailure{RunOutcome::kScheduleDiverged,
                       which + " grants " + decision.context() +
                           ", which is not ready here (ready: " + ready + ")"};
    }
    const std::string& name = *at;
    const std::size_t colon = name.find(':');
    choice.chosen = static_cast<std::uint32_t>(at - choice.candidates.begin());
    choice.side = name.compare(0, colon, side_name(Side::kHost)) == 0 ? Side::kHost : Side::kGuest;
    choice.context = name.substr(colon + 1);
  }

  std::optional<std::uint64_t> next_timed_intervention_ns() const {
    return script_ != nullptr ? script_->next_time_ns() : std::nullopt;
  }

  void run_step(const Choice& choice) {
    queue_.advance_to(choice.run_at_ns);
    check_time_limit();
    if (config_.before_step) {
      config_.before_step(steps_ + 1, links_.pid(Side::kHost), links_.pid(Side::kGuest));
    }
    trace_scheduler(choice);
    grant_step(choice.side, choice.context);
    queue_.advance_by(config_.step_cost_ns);
  }

  // Nothing can run and nothing is due: what faults and holds keep back is
  // let go, in that order. Returns false when there was nothing (the run is
  // quiet); without a script that is a deadlock.
  bool release_what_is_held() {
    bool released = false;
    for (Side receiver : {Side::kHost, Side::kGuest}) {
      if (std::optional<MessageFate> fate = faults_.release_held(receiver)) {
        execute(synic_.accept(receiver, std::move(*fate)));
        released = true;
      }
    }
    if (released) {
      return true;
    }
    if (std::optional<std::string> holds = scheduler_.release_holds()) {
      trace_fault("hold_released", *holds + ": nothing else could run");
      return true;
    }
    if (script_ != nullptr || guest_done_) {
      return false;
    }
    throw RunFailure{RunOutcome::kDeadlock,
                     "nothing is ready and nothing is in flight, but the guest has not "
                     "finished; host " +
                         links_.state(Side::kHost) + ", guest " + links_.state(Side::kGuest)};
  }

  // A guest that reported done is over the limit only while it drains:
  // the loop then ends the run as completed.
  void check_time_limit() const {
    if (queue_.now_ns() > config_.time_limit_ns && (script_ != nullptr || !guest_done_)) {
      throw RunFailure{RunOutcome::kTimeLimit,
                       "simulated time passed " + std::to_string(config_.time_limit_ns / 1000) +
                           " us before the " +
                           (script_ != nullptr ? "system went quiet" : "guest finished")};
    }
  }

  // --- free-running mode -----------------------------------------------------
  //
  // Contexts run on the partitions' own threads; the hypervisor only relays
  // messages and signals as they come, and declares the run hung when no
  // partition sends anything for the response timeout.

  void loop_free_running() {
    const auto now = std::chrono::steady_clock::now();
    last_frames_[0] = LastFrame{now, "hello_ack"};
    last_frames_[1] = LastFrame{now, "hello_ack"};
    PartitionLinks::Deadline quiet(links_, config_.response_timeout);
    std::uint64_t frames_at_restart = frames_relayed_;
    while (!guest_done_) {
      links_.check();
      const bool relayed = relay_waiting_frames();
      deliver_free_running_events();
      if (relayed) {
        continue;
      }
      if (frames_relayed_ != frames_at_restart) {
        frames_at_restart = frames_relayed_;
        quiet.restart();
      }
      if (quiet.passed()) {
        throw RunFailure{RunOutcome::kPartitionHung, silence_text()};
      }
      links_.run_one();
    }
  }

  bool relay_waiting_frames() {
    bool relayed = false;
    for (Side side : {Side::kHost, Side::kGuest}) {
      while (!guest_done_) {
        std::optional<proto::PartitionToSim> frame = links_.take_waiting_frame(side);
        if (!frame) {
          break;
        }
        ++frames_relayed_;
        last_frames_[index_of(side)] =
            LastFrame{std::chrono::steady_clock::now(), frame_name(*frame)};
        queue_.advance_by(config_.step_cost_ns);
        links_.set_state(side, "running free");
        dispatch(side, *frame);
        relayed = true;
      }
    }
    return relayed;
  }

  // Which partition went silent first -- the one the other is most likely
  // waiting for -- and what each sent last.
  std::string silence_text() const {
    const auto now = std::chrono::steady_clock::now();
    const auto ago_ms = [&now](const LastFrame& last) {
      return std::to_string(
          std::chrono::duration_cast<std::chrono::milliseconds>(now - last.at).count());
    };
    const LastFrame& host = last_frames_[index_of(Side::kHost)];
    const LastFrame& guest = last_frames_[index_of(Side::kGuest)];
    const bool host_first = host.at <= guest.at;
    const LastFrame& first = host_first ? host : guest;
    const LastFrame& other = host_first ? guest : host;
    const std::string first_name = partition_name(host_first ? Side::kHost : Side::kGuest);
    const std::string other_name = partition_name(host_first ? Side::kGuest : Side::kHost);
    return "no partition sent anything for " + std::to_string(config_.response_timeout.count()) +
           " ms and the guest has not finished; " + first_name +
           " went silent first (its last frame, " + first.what + ", came " + ago_ms(first) +
           " ms ago; " + other_name + "'s last, " + other.what + ", " + ago_ms(other) +
           " ms ago); host " + links_.state(Side::kHost) + ", guest " + links_.state(Side::kGuest);
  }

  static std::string frame_name(const proto::PartitionToSim& frame) {
    const google::protobuf::FieldDescriptor* field =
        proto::PartitionToSim::descriptor()->FindFieldByNumber(frame.body_case());
    return field != nullptr ? field->name() : "an empty frame";
  }

  void deliver_free_running_events() {
    while (!free_running_deliveries_.empty()) {
      const Event event = std::move(free_running_deliveries_.front());
      free_running_deliveries_.pop_front();
      execute(synic_.on_event(event));
    }
  }

  // --- a loaded driver's fault ---------------------------------------------------

  // What the failed partition's driver slot says, if it was in driver code
  // (or a driver's entry point failed) when it crashed, hung or failed.
  std::optional<DriverFault> driver_fault(const RunFailure& failure) const {
    if (!failure.side || !slots_ ||
        (failure.outcome != RunOutcome::kPartitionCrashed &&
         failure.outcome != RunOutcome::kPartitionHung &&
         failure.outcome != RunOutcome::kPartitionFailed)) {
      return std::nullopt;
    }
    const std::optional<ipc::DriverSlotContents> slot = ipc::read_driver_slot(
        slots_->bytes(),
        *failure.side == Side::kHost ? ipc::DriverSlotSide::kHost : ipc::DriverSlotSide::kGuest);
    if (!slot || slot->state == ipc::DriverSlotState::kOutside ||
        (failure.outcome == RunOutcome::kPartitionFailed) !=
            (slot->state == ipc::DriverSlotState::kEntryFailed)) {
      return std::nullopt;
    }
    DriverFault fault;
    fault.side = *failure.side;
    fault.driver = slot->driver;
    fault.callback = slot->callback;
    fault.channel = slot->channel;
    fault.packet = slot->packet;
    fault.send = slot->send;
    fault.reason = failure.how;
    if (failure.outcome == RunOutcome::kPartitionHung) {
      fault.kind = DriverFault::Kind::kHung;
    } else if (slot->state == ipc::DriverSlotState::kEntryFailed) {
      fault.kind = DriverFault::Kind::kFailed;
      fault.reason = slot->detail;
    } else if (slot->state == ipc::DriverSlotState::kExceptionEscaped) {
      fault.reason = "uncaught C++ exception " + slot->detail;
    }
    return fault;
  }

  // --- setting up and saying hello -------------------------------------------

  void set_up() {
    if (interrupted()) {
      throw RunFailure{RunOutcome::kInterrupted, interrupt_text()};
    }
    remove_stale_segments();
    // Anonymous: the partitions inherit it, and it goes with the last of
    // the three processes even if the simulator is killed with SIGKILL.
    try {
      segment_.emplace(shm::SharedSegment::create_anonymous(shm::make_unique_segment_name("run"),
                                                            config_.segment_size_bytes));
      slots_.emplace(shm::SharedSegment::create_anonymous(shm::make_unique_segment_name("slots"),
                                                          ipc::kDriverSlotPageBytes));
    } catch (const std::exception& e) {
      throw RunFailure{RunOutcome::kSetupFailed, e.what()};
    }
    if (!config_.trace_path.empty()) {
      proto::TraceHeader header = config_.provenance;
      for (const proto::PinnedDecision& decision : config_.schedule) {
        *header.add_schedule() = decision;
      }
      header.set_format_version(trace::kTraceFormatVersion);
      header.set_seed(config_.seed);
      header.set_scenario(config_.scenario_name);
      header.set_mode(config_.mode);
      header.set_build_version(std::string(base::build_info().version));
      header.set_build_commit(std::string(base::build_info().commit));
      try {
        trace_.open(config_.trace_path, header);
      } catch (const std::exception& e) {
        throw RunFailure{RunOutcome::kSetupFailed, e.what()};
      }
    }
    links_.start(Side::kHost, config_.host_binary, segment_->fd(), slots_->fd());
    links_.start(Side::kGuest, config_.guest_binary, segment_->fd(), slots_->fd());
  }

  void say_hello(Side side) {
    proto::SimToPartition frame;
    auto* hello = frame.mutable_hello();
    hello->set_ipc_version(ipc::kIpcVersion);
    hello->set_role(role_of(side));
    hello->set_mode(config_.mode);
    hello->set_segment_name("/proc/self/fd/" + std::to_string(kChildSegmentFd));
    hello->set_segment_size_bytes(config_.segment_size_bytes);
    hello->set_seed(config_.seed);
    hello->set_config(side == Side::kHost ? config_.host_config : config_.guest_config);
    hello->set_max_frame_bytes(ipc::kDefaultMaxFrameBytes);
    hello->set_driver_slot_name("/proc/self/fd/" + std::to_string(kChildDriverSlotFd));
    const proto::HelloAck ack = links_.handshake(side, frame);
    set_ready(side, ack.ready_contexts(), 0);
    synic_.set_message_ports(side, std::vector<std::uint32_t>(ack.message_connection_ids().begin(),
                                                              ack.message_connection_ids().end()));
    if (side == Side::kGuest && ack.vp_count() > 1) {
      if (ack.vp_count() > kMaxVps) {
        links_.protocol_error(side, "has " + std::to_string(ack.vp_count()) + " VPs (at most " +
                                        std::to_string(kMaxVps) + ")");
      }
      synic_.set_guest_vp_count(ack.vp_count());
    }
    links_.set_state(side, "idle");
  }

  // --- what a partition is asked, and its answers ------------------------------

  void grant_step(Side side, const std::string& context) {
    ++steps_;
    links_.set_state(side,
                     "running step " + std::to_string(steps_) + " of context '" + context + "'");
    proto::SimToPartition frame;
    frame.mutable_step()->set_step_number(steps_);
    frame.mutable_step()->set_context(context);
    frame.mutable_step()->set_time_ns(queue_.now_ns());
    links_.send(side, frame);
    const proto::PartitionToSim reply =
        await_reply(side, [](const proto::PartitionToSim& f) { return f.has_step_done(); });
    if (reply.step_done().step_number() != steps_) {
      links_.protocol_error(side, "finished a step it was not granted");
    }
    set_ready(side, reply.step_done().ready_contexts(), reply.step_done().wake_at_ns());
    links_.set_state(side,
                     "idle after step " + std::to_string(steps_) + " of context '" + context + "'");
  }

  // Sends a timeline's partition action and waits for its ActionDone; returns
  // the partition's error ("" when it carried it out).
  std::string request_action(Side side, const proto::PartitionAction& action) {
    const std::uint64_t id = ++actions_sent_;
    proto::SimToPartition frame;
    *frame.mutable_action()->mutable_action() = action;
    frame.mutable_action()->set_id(id);
    frame.mutable_action()->set_time_ns(queue_.now_ns());
    const std::string previous_state = links_.state(side);
    links_.set_state(side, "carrying out scenario action " + std::to_string(id));
    links_.send(side, frame);
    const proto::PartitionToSim reply =
        await_reply(side, [](const proto::PartitionToSim& f) { return f.has_action_done(); });
    if (reply.action_done().id() != id) {
      links_.protocol_error(side, "finished a scenario action it was not asked for");
    }
    set_ready(side, reply.action_done().ready_contexts(), reply.action_done().wake_at_ns());
    links_.set_state(side, previous_state);
    return reply.action_done().error();
  }

  // Deliveries wait for the partition's acknowledgement in deterministic
  // mode, so the new ready set is known before the next scheduling choice.
  void await_delivery_ack(Side side) {
    if (config_.mode != proto::SCHEDULING_MODE_DETERMINISTIC) {
      return;
    }
    const proto::PartitionToSim reply =
        await_reply(side, [](const proto::PartitionToSim& f) { return f.has_delivery_ack(); });
    set_ready(side, reply.delivery_ack().ready_contexts(), reply.delivery_ack().wake_at_ns());
  }

  // The partition's next frame that `is_reply` accepts. What it sends before
  // that (posts, signals, EOMs, trace, reports) is dispatched as it comes.
  template <typename IsReply>
  proto::PartitionToSim await_reply(Side side, IsReply is_reply) {
    for (;;) {
      proto::PartitionToSim frame = links_.await_frame(side);
      if (is_reply(frame)) {
        return frame;
      }
      dispatch(side, frame);
    }
  }

  void set_ready(Side side, const google::protobuf::RepeatedPtrField<std::string>& ready,
                 std::uint64_t wake_at_ns) {
    if (!scheduler_.set_ready(side, std::vector<std::string>(ready.begin(), ready.end()),
                              wake_at_ns)) {
      links_.protocol_error(side, "reported a ready set that is not sorted and unique");
    }
  }

  // --- frames a partition sends on its own ----------------------------------

  void dispatch(Side side, const proto::PartitionToSim& frame) {
    switch (frame.body_case()) {
      case proto::PartitionToSim::kPostMessage:
        post_message(side, frame.post_message());
        break;
      case proto::PartitionToSim::kSignalEvent:
        execute(synic_.signal(side, frame.signal_event().connection_id(),
                              frame.signal_event().child_relid(), faults_));
        break;
      case proto::PartitionToSim::kEventTarget:
        route_events(side, frame.event_target());
        break;
      case proto::PartitionToSim::kEndOfMessage:
        execute(synic_.end_of_message(side, frame.end_of_message().sint()));
        break;
      case proto::PartitionToSim::kTrace:
        write_partition_trace(side, frame.trace());
        break;
      case proto::PartitionToSim::kReport:
        take_report(side, frame.report());
        break;
      case proto::PartitionToSim::kFailure:
        throw RunFailure{RunOutcome::kPartitionFailed,
                         std::string(partition_name(side)) + " failed while " + links_.state(side) +
                             ": " + frame.failure().what(),
                         side, "failed"};
      default:
        links_.protocol_error(side, "sent an unexpected frame (body " +
                                        std::to_string(static_cast<int>(frame.body_case())) + ")");
    }
  }

  // The host's VMBus server (re)targets a channel's interrupts.
  void route_events(Side side, const proto::EventTarget& target) {
    if (side != Side::kHost) {
      links_.protocol_error(side, "routed a channel's interrupts (only the host's server does)");
    }
    execute(synic_.set_event_target(target.child_relid(), target.vp()));
  }

  void post_message(Side side, const proto::PostMessage& post) {
    const PostResult result = synic_.post(
        side, post.message_type(), SynicMessage{post.connection_id(), post.payload()}, faults_);
    execute(result.effects);
    proto::SimToPartition reply;
    reply.mutable_post_result()->set_hv_status(result.status);
    links_.send(side, reply);
  }

  // --- reports -----------------------------------------------------------------

  void take_report(Side side, const proto::Report& report) {
    for (const proto::KeyValue& kv : report.values()) {
      reports_[index_of(side)].emplace_back(kv.key(), kv.value());
    }
    if (report.done()) {
      if (side != Side::kGuest) {
        links_.protocol_error(side, "reported done (only the guest ends a run)");
      }
      guest_done_ = true;
    }
  }

  // With a script, the run ends by asking each partition for its final
  // report.
  void collect_final_reports() {
    for (Side side : {Side::kHost, Side::kGuest}) {
      proto::SimToPartition frame;
      frame.mutable_final_report();
      links_.set_state(side, "writing its final report");
      links_.send(side, frame);
      const proto::PartitionToSim reply = await_reply(side, [](const proto::PartitionToSim& f) {
        return f.has_report() && f.report().has_final_report();
      });
      final_reports_[index_of(side)] = reply.report().final_report();
    }
    final_reports_collected_ = true;
  }

  void fill_in(RunResult& result) const {
    result.host_report = reports_[index_of(Side::kHost)];
    result.guest_report = reports_[index_of(Side::kGuest)];
    result.host_final = final_reports_[index_of(Side::kHost)].host();
    result.guest_final = final_reports_[index_of(Side::kGuest)].guest();
    result.final_reports = final_reports_collected_;
    result.segment_name = segment_ ? segment_->name() : "";
    result.driver_slot_segment_name = slots_ ? slots_->name() : "";
    result.host_pid = links_.pid(Side::kHost);
    result.guest_pid = links_.pid(Side::kGuest);
    result.steps = steps_;
    result.time_ns = queue_.now_ns();
    result.trace_records = trace_.records_written();
  }

  // --- interventions -------------------------------------------------------------

  void perform(const DueIntervention& due) {
    proto::TraceRecord record = record_now();
    auto* action = record.mutable_action();
    action->set_step(due.number);
    action->set_label(due.label);
    action->set_describe(due.describe);
    write_record(record);
    const std::string error =
        std::visit([&](const auto& what) { return perform(what, due.number); }, due.what);
    script_->intervention_done(queue_.now_ns(), error);
  }

  std::string perform(const NoIntervention&, std::uint32_t) { return ""; }

  std::string perform(const RequestAction& request, std::uint32_t) {
    return request_action(request.side, request.action);
  }

  std::string perform(const ArmSignalFault& fault, std::uint32_t) {
    faults_.arm(fault);
    return "";
  }

  std::string perform(const InjectSpuriousInterrupt& spurious, std::uint32_t) {
    execute(faults_.inject(spurious));
    return "";
  }

  std::string perform(const ArmMessageFault& fault, std::uint32_t) {
    faults_.arm(fault);
    return "";
  }

  std::string perform(const CrashPartition& crash_it, std::uint32_t number) {
    crash(crash_it.side, number);
  }

  std::string perform(const HoldContext& hold, std::uint32_t) {
    scheduler_.hold(hold.side, hold.context);
    return "";
  }

  std::string perform(const ReleaseContext& release, std::uint32_t) {
    scheduler_.release(release.side, release.context);
    return "";
  }

  std::string perform(const AdvanceTime& advance, std::uint32_t) {
    queue_.advance_by(advance.ns);
    return "";
  }

  std::string perform(const WriteNote& write, std::uint32_t) {
    note(write.text);
    return "";
  }

  // `number`: the timeline entry that asked for the crash. (The trace and
  // the run's detail call a timeline entry a "scenario step"; that wording
  // stays so that traces stay comparable.)
  [[noreturn]] void crash(Side side, std::uint32_t number) {
    const std::string name = partition_name(side);
    trace_fault("crash", name + " killed by the scenario (step " + std::to_string(number) + ")");
    const ChildExit exit = links_.kill(side);
    throw RunFailure{RunOutcome::kPartitionCrashed,
                     name + " " + exit.describe() + " while " + links_.state(side) + " (" +
                         where() + "; scenario step " + std::to_string(number) + " crashed it)"};
  }

  // --- effects: what the SynIC and the fault rules decided -----------------------

  void execute(const Effects& effects) {
    for (const Effect& effect : effects) {
      std::visit([this](const auto& one) { execute(one); }, effect);
    }
  }

  void execute(const TraceMessage& effect) { trace_message(effect); }
  void execute(const TraceSignal& effect) { trace_signal(effect); }
  void execute(const TraceFault& effect) { trace_fault(effect.kind, effect.detail); }

  // Every PRNG draw but the scheduler's is this one: the jitter of the
  // SynIC's own deliveries, drawn in the order the SynIC schedules them.
  void execute(const ScheduleDelivery& delivery) {
    if (config_.mode != proto::SCHEDULING_MODE_DETERMINISTIC) {
      free_running_deliveries_.push_back(delivery.event);
      return;
    }
    std::uint64_t jitter_ns = 0;
    if (config_.latency_jitter_ns > 0) {
      jitter_ns = prng_.below(config_.latency_jitter_ns);
    }
    queue_.schedule(queue_.now_ns() + delivery.latency_ns + jitter_ns, delivery.event);
  }

  void execute(const ScheduleExactly& schedule) {
    queue_.schedule(queue_.now_ns() + schedule.latency_ns, schedule.event);
  }

  void execute(const DeliverSlot& delivery) {
    proto::SimToPartition frame;
    auto* message = frame.mutable_deliver_message();
    message->set_sint(wire::kVmbusMessageSint);
    message->set_hv_message(hv_message_bytes(delivery));
    message->set_time_ns(queue_.now_ns());
    links_.send(delivery.target, frame);
    await_delivery_ack(delivery.target);
  }

  void execute(const DeliverEventFlags& delivery) {
    proto::SimToPartition frame;
    auto* events = frame.mutable_deliver_event();
    for (std::uint32_t relid : delivery.child_relids) {
      events->add_child_relids(relid);
    }
    for (std::uint32_t id : delivery.connection_ids) {
      events->add_connection_ids(id);
    }
    events->set_vp(delivery.vp);
    events->set_time_ns(queue_.now_ns());
    links_.send(delivery.target, frame);
    await_delivery_ack(delivery.target);
  }

  void execute(const ProtocolError& error) { links_.protocol_error(error.partition, error.what); }

  // --- the trace: every record is stamped with simulated time here -----------

  void write_record(proto::TraceRecord& record) {
    trace_.write(record);
    if (script_ != nullptr) {
      script_->on_record(record);
    }
  }

  proto::TraceRecord record_now() const {
    proto::TraceRecord record;
    record.set_time_ns(queue_.now_ns());
    return record;
  }

  void write_partition_trace(Side side, const proto::TraceRecords& records) {
    for (const proto::TraceRecord& partition_record : records.records()) {
      proto::TraceRecord record = partition_record;
      record.set_time_ns(queue_.now_ns());
      record.set_partition(role_of(side));
      write_record(record);
    }
  }

  void note(const std::string& text) {
    proto::TraceRecord record = record_now();
    record.mutable_note()->set_text(text);
    write_record(record);
  }

  void trace_fault(const std::string& kind, const std::string& detail) {
    proto::TraceRecord record = record_now();
    record.mutable_fault()->set_kind(kind);
    record.mutable_fault()->set_detail(detail);
    write_record(record);
  }

  void trace_scheduler(const Choice& choice) {
    proto::TraceRecord record = record_now();
    auto* event = record.mutable_scheduler();
    event->set_step_number(steps_ + 1);
    for (const std::string& candidate : choice.candidates) {
      event->add_ready(candidate);
    }
    event->set_chosen(choice.chosen);
    write_record(record);
  }

  void trace_message(const TraceMessage& effect) {
    proto::TraceRecord record = record_now();
    auto* event = record.mutable_message();
    const std::string& payload = effect.message.payload;
    event->set_stage(effect.stage);
    event->set_from(role_of(sender_of(effect.direction)));
    event->set_to(role_of(receiver_of(effect.direction)));
    event->set_connection_id(effect.message.connection_id);
    if (payload.size() >= 4) {
      std::uint32_t msgtype = 0;
      std::memcpy(&msgtype, payload.data(), sizeof(msgtype));
      event->set_msgtype(msgtype);
    }
    event->set_decoded(
        wire::describe_payload(std::as_bytes(std::span(payload.data(), payload.size()))));
    event->set_payload(payload);
    event->set_reason(effect.reason);
    event->set_msg_pending(effect.msg_pending);
    write_record(record);
  }

  void trace_signal(const TraceSignal& effect) {
    proto::TraceRecord record = record_now();
    auto* event = record.mutable_signal();
    event->set_stage(effect.stage);
    event->set_from(role_of(sender_of(effect.direction)));
    event->set_to(role_of(receiver_of(effect.direction)));
    event->set_connection_id(effect.connection_id);
    event->set_child_relid(effect.child_relid);
    if (effect.vp) {
      event->set_vp(*effect.vp);
    }
    write_record(record);
  }

  // --- LinkObserver ---------------------------------------------------------------

  void on_partition_trace(Side side, const proto::TraceRecords& records) override {
    write_partition_trace(side, records);
  }

  void on_process_event(Side side, proto::ProcessEvent::Kind kind,
                        const std::string& detail) override {
    proto::TraceRecord record = record_now();
    auto* event = record.mutable_process();
    event->set_kind(kind);
    event->set_partition(role_of(side));
    event->set_detail(detail);
    write_record(record);
  }

  std::string where() const override {
    return "step " + std::to_string(steps_) + ", t=" + std::to_string(queue_.now_ns()) + "ns";
  }

  const SimulationConfig& config_;
  RunScript* const script_;  // null: the run ends when the guest reports done
  base::Prng prng_;
  std::optional<shm::SharedSegment> segment_;
  std::optional<shm::SharedSegment> slots_;  // the driver slots (ipc/driver_slot.h)
  trace::TraceWriter trace_;
  PartitionLinks links_;  // after segment_: the processes end before their memory goes
  EventQueue queue_;
  Scheduler scheduler_;
  Synic synic_;
  Faults faults_;
  // Free-running: the SynIC's deliveries, carried out as soon as the loop
  // comes round.
  std::deque<Event> free_running_deliveries_;
  // Free-running: when each partition last sent a frame, and which (wall
  // clock, for the hang message only: it never shapes a run).
  struct LastFrame {
    std::chrono::steady_clock::time_point at;
    std::string what;
  };
  LastFrame last_frames_[2];  // by side
  std::uint64_t steps_ = 0;
  std::size_t next_pin_ = 0;  // the first scenario pin not yet behind (pinned_for_next_step)
  std::uint64_t frames_relayed_ = 0;
  std::uint64_t actions_sent_ = 0;
  KeyValues reports_[2];                 // by side
  proto::FinalReport final_reports_[2];  // by side
  bool final_reports_collected_ = false;
  bool guest_done_ = false;
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
    case RunOutcome::kDriverFault:
      return "driver_fault";
    case RunOutcome::kScheduleDiverged:
      return "schedule_diverged";
  }
  return "unknown";
}

std::string DriverFault::describe() const {
  std::string text = side_name(side) + std::string(" driver ") + driver;
  switch (kind) {
    case Kind::kCrashed:
      text += " crashed (" + reason + ")";
      break;
    case Kind::kHung:
      text += " hung";
      break;
    case Kind::kFailed:
      text += " failed";
      break;
  }
  text += " in " + callback;
  if (!channel.empty()) {
    text += " of channel '" + channel + "'";
  }
  if (packet >= 0) {
    text += ", packet #" + std::to_string(packet);
  }
  if (send >= 0) {
    text += ", send #" + std::to_string(send);
  }
  if (kind == Kind::kHung) {
    text += " (" + reason + ")";
  } else if (kind == Kind::kFailed) {
    text += ": " + reason;
  }
  return text;
}

int RunResult::exit_code() const {
  switch (outcome) {
    case RunOutcome::kCompleted:
      return 0;
    case RunOutcome::kDriverFault:
      return kExitDriverFault;
    case RunOutcome::kInterrupted:
      return kExitInterrupted;
    case RunOutcome::kScheduleDiverged:
      return kExitScheduleDiverged;
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
