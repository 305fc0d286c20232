#include "vmbus/partition/partition.h"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <optional>
#include <stdexcept>
#include <unistd.h>

#include "vmbus/base/build_info.h"
#include "vmbus/ipc/asio.h"
#include "vmbus/ipc/driver_slot.h"
#include "vmbus/ipc/frame.h"
#include "vmbus/ipc/version.h"
#include "vmbus/partition/driver_watch.h"
#include "vmbus/shm/segment.h"

namespace vmbus::partition {
namespace {

// Trace records per frame at most: a record is a few hundred bytes at most
// (a message payload is at most 240), so a frame stays far below the IPC
// maximum of 1 MiB.
constexpr int kMaxTraceRecordsPerFrame = 1024;

// The connection to the simulator failed or the simulator broke the
// protocol: the partition cannot go on.
class IpcFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

const char* role_name(proto::Partition role) {
  return role == proto::PARTITION_HOST ? "vmbus-host" : "vmbus-guest";
}

class IpcHypervisor final : public Hypervisor {
 public:
  IpcHypervisor(ipc::LocalSocket& socket, std::uint32_t max_frame_bytes)
      : socket_(socket), reader_(socket, max_frame_bytes) {}

  std::uint32_t post_message(std::uint32_t connection_id,
                             std::span<const std::byte> payload) override {
    proto::PartitionToSim frame;
    auto* post = frame.mutable_post_message();
    post->set_connection_id(connection_id);
    post->set_message_type(1);
    post->set_payload(reinterpret_cast<const char*>(payload.data()), payload.size());
    send(frame);
    // HvPostMessage is synchronous: wait for its status. In free-running mode
    // deliveries may arrive first; they are applied after the current step.
    for (;;) {
      proto::SimToPartition reply = receive();
      if (reply.has_post_result()) {
        return reply.post_result().hv_status();
      }
      deferred_.push_back(std::move(reply));
    }
  }

  void signal_event(std::uint32_t connection_id, std::uint32_t child_relid) override {
    proto::PartitionToSim frame;
    frame.mutable_signal_event()->set_connection_id(connection_id);
    frame.mutable_signal_event()->set_child_relid(child_relid);
    send(frame);
  }

  void set_event_target(std::uint32_t child_relid, std::uint32_t vp) override {
    proto::PartitionToSim frame;
    frame.mutable_event_target()->set_child_relid(child_relid);
    frame.mutable_event_target()->set_vp(vp);
    send(frame);
  }

  void end_of_message(std::uint32_t sint) override {
    proto::PartitionToSim frame;
    frame.mutable_end_of_message()->set_sint(sint);
    send(frame);
  }

  void trace(proto::TraceRecord record) override {
    *pending_trace_.add_records() = std::move(record);
    // One action can trace without bound (a send of 20,000 packets through
    // KMCL); a frame may not exceed the IPC maximum. The simulator writes
    // trace frames in arrival order, so sending them early changes nothing
    // in the trace.
    if (pending_trace_.records_size() >= kMaxTraceRecordsPerFrame) {
      flush_trace();
    }
  }

  void report(const std::vector<std::pair<std::string, std::string>>& values, bool done) override {
    proto::PartitionToSim frame;
    auto* report = frame.mutable_report();
    for (const auto& [key, value] : values) {
      auto* kv = report->add_values();
      kv->set_key(key);
      kv->set_value(value);
    }
    report->set_done(done);
    send(frame);
  }

  std::uint64_t now_ns() const override { return now_ns_; }
  void set_now(std::uint64_t now_ns) { now_ns_ = now_ns; }

  // Sends the trace records collected so far on their own, when no other
  // frame is about to carry them (see send()).
  void flush_trace() {
    if (pending_trace_.records_size() == 0) {
      return;
    }
    proto::PartitionToSim frame;
    *frame.mutable_trace() = std::move(pending_trace_);
    pending_trace_.Clear();
    write(frame);
  }

  // Sends `frame` with the trace records collected so far riding along.
  void send(proto::PartitionToSim frame) {
    if (pending_trace_.records_size() != 0) {
      *frame.mutable_trace_before() = std::move(pending_trace_);
      pending_trace_.Clear();
    }
    write(frame);
  }

  proto::SimToPartition receive() {
    if (!deferred_.empty()) {
      proto::SimToPartition frame = std::move(deferred_.front());
      deferred_.pop_front();
      return frame;
    }
    return receive_from_socket();
  }

  bool has_input() {
    boost::system::error_code error;
    return !deferred_.empty() || reader_.has_buffered_frame() || socket_.available(error) > 0 ||
           error;
  }

 private:
  proto::SimToPartition receive_from_socket() {
    proto::SimToPartition frame;
    const ipc::FrameStatus status = reader_.read(frame);
    if (!status.ok()) {
      throw IpcFailure(std::string("reading from the simulator: ") +
                       ipc::frame_error_name(status.error) + ": " + status.detail);
    }
    return frame;
  }

  void write(const proto::PartitionToSim& frame) {
    const ipc::FrameStatus status = ipc::write_frame(socket_, frame);
    if (!status.ok()) {
      throw IpcFailure("writing to the simulator: " + status.detail);
    }
  }

  ipc::LocalSocket& socket_;
  ipc::FrameReader reader_;
  std::uint64_t now_ns_ = 0;
  proto::TraceRecords pending_trace_;
  std::deque<proto::SimToPartition> deferred_;
};

void add_ready(const PartitionLogic& logic,
               google::protobuf::RepeatedPtrField<std::string>* ready) {
  for (const std::string& context : logic.ready_contexts()) {
    *ready->Add() = context;
  }
}

class PartitionLoop {
 public:
  PartitionLoop(proto::Partition role, PartitionLogic& logic, IpcHypervisor& hv)
      : role_(role), logic_(logic), hv_(hv) {}

  // Returns after Shutdown; throws IpcFailure on a broken connection.
  void run() {
    const StartInfo info = handshake();
    if (info.mode == proto::SCHEDULING_MODE_FREE_RUNNING) {
      run_free();
    } else {
      run_deterministic();
    }
  }

 private:
  StartInfo handshake() {
    proto::SimToPartition first = hv_.receive();
    if (!first.has_hello()) {
      throw IpcFailure("the first frame from the simulator is not Hello");
    }
    const proto::Hello& hello = first.hello();
    if (hello.ipc_version() != ipc::kIpcVersion) {
      throw IpcFailure("IPC version mismatch: simulator speaks " +
                       std::to_string(hello.ipc_version()) + ", this partition " +
                       std::to_string(ipc::kIpcVersion));
    }
    if (hello.role() != role_) {
      throw IpcFailure(std::string("the simulator addressed this ") + role_name(role_) +
                       " as the other partition");
    }
    try {
      memory_.emplace(shm::SharedSegment::open(hello.segment_name()));
    } catch (const std::exception& e) {
      throw IpcFailure(std::string("cannot start: ") + e.what());
    }
    watch_drivers(hello);
    StartInfo info;
    info.role = hello.role();
    info.mode = hello.mode();
    info.memory = &*memory_;
    info.seed = hello.seed();
    info.config = hello.config();
    if (std::string error = logic_.start(info, hv_); !error.empty()) {
      throw IpcFailure("cannot start: " + error);
    }
    proto::PartitionToSim ack;
    auto* hello_ack = ack.mutable_hello_ack();
    hello_ack->set_ipc_version(ipc::kIpcVersion);
    hello_ack->set_role(role_);
    hello_ack->set_pid(static_cast<std::uint32_t>(::getpid()));
    add_ready(logic_, hello_ack->mutable_ready_contexts());
    if (logic_.vp_count() > 1) {
      hello_ack->set_vp_count(logic_.vp_count());
    }
    for (std::uint32_t id : logic_.message_connection_ids()) {
      hello_ack->add_message_connection_ids(id);
    }
    hv_.send(ack);
    return info;
  }

  // Maps the driver slot page, if the simulator handed one over, before any
  // driver code runs (the entry points run in logic_.start()).
  void watch_drivers(const proto::Hello& hello) {
    if (hello.driver_slot_name().empty()) {
      return;
    }
    try {
      slots_.emplace(shm::SharedSegment::open(hello.driver_slot_name()));
    } catch (const std::exception& e) {
      throw IpcFailure(std::string("cannot map the driver slots: ") + e.what());
    }
    if (slots_->bytes().size() < ipc::kDriverSlotPageBytes) {
      throw IpcFailure("the driver slot page is too small");
    }
    watch_.emplace(slots_->bytes(), role_ == proto::PARTITION_HOST ? ipc::DriverSlotSide::kHost
                                                                   : ipc::DriverSlotSide::kGuest);
  }

  // Applies a delivery; returns false on Shutdown. Throws on a step grant
  // (not valid here) or anything unexpected.
  bool apply(const proto::SimToPartition& frame) {
    switch (frame.body_case()) {
      case proto::SimToPartition::kDeliverMessage: {
        const auto& delivery = frame.deliver_message();
        hv_.set_now(delivery.time_ns());
        const std::string& bytes = delivery.hv_message();
        logic_.deliver_message(delivery.sint(),
                               std::as_bytes(std::span(bytes.data(), bytes.size())), hv_);
        return true;
      }
      case proto::SimToPartition::kDeliverEvent: {
        const auto& delivery = frame.deliver_event();
        hv_.set_now(delivery.time_ns());
        logic_.deliver_event(std::span(delivery.child_relids().data(),
                                       static_cast<std::size_t>(delivery.child_relids_size())),
                             std::span(delivery.connection_ids().data(),
                                       static_cast<std::size_t>(delivery.connection_ids_size())),
                             delivery.vp(), hv_);
        return true;
      }
      case proto::SimToPartition::kShutdown:
        return false;
      default:
        throw IpcFailure("unexpected frame from the simulator (body " +
                         std::to_string(static_cast<int>(frame.body_case())) + ")");
    }
  }

  void run_deterministic() {
    for (;;) {
      proto::SimToPartition frame = hv_.receive();
      if (frame.has_step()) {
        const proto::StepGrant& grant = frame.step();
        const std::vector<std::string> ready = logic_.ready_contexts();
        if (!std::binary_search(ready.begin(), ready.end(), grant.context())) {
          throw IpcFailure("granted a step of context '" + grant.context() +
                           "', which is not ready");
        }
        hv_.set_now(grant.time_ns());
        logic_.step(grant.context(), hv_);
        proto::PartitionToSim done;
        done.mutable_step_done()->set_step_number(grant.step_number());
        add_ready(logic_, done.mutable_step_done()->mutable_ready_contexts());
        done.mutable_step_done()->set_wake_at_ns(logic_.wake_at_ns());
        hv_.send(done);
        continue;
      }
      if (frame.has_action()) {
        const proto::ActionRequest& request = frame.action();
        hv_.set_now(request.time_ns());
        proto::PartitionToSim done;
        done.mutable_action_done()->set_id(request.id());
        done.mutable_action_done()->set_error(logic_.perform(request.action(), hv_));
        add_ready(logic_, done.mutable_action_done()->mutable_ready_contexts());
        done.mutable_action_done()->set_wake_at_ns(logic_.wake_at_ns());
        hv_.send(done);
        continue;
      }
      if (frame.has_final_report()) {
        proto::PartitionToSim answer;
        *answer.mutable_report()->mutable_final_report() = logic_.final_report();
        hv_.send(answer);
        continue;
      }
      if (!apply(frame)) {
        hv_.flush_trace();
        return;
      }
      proto::PartitionToSim ack;
      add_ready(logic_, ack.mutable_delivery_ack()->mutable_ready_contexts());
      ack.mutable_delivery_ack()->set_wake_at_ns(logic_.wake_at_ns());
      hv_.send(ack);
    }
  }

  // Free-running: apply whatever has arrived, run one step of every ready
  // context, repeat; block on the socket only when nothing is ready.
  void run_free() {
    for (;;) {
      while (hv_.has_input()) {
        if (!apply(hv_.receive())) {
          hv_.flush_trace();
          return;
        }
      }
      const std::vector<std::string> ready = logic_.ready_contexts();
      if (ready.empty()) {
        hv_.flush_trace();
        if (!apply(hv_.receive())) {
          return;
        }
        continue;
      }
      for (const std::string& context : ready) {
        logic_.step(context, hv_);
      }
      hv_.flush_trace();
    }
  }

  proto::Partition role_;
  PartitionLogic& logic_;
  IpcHypervisor& hv_;
  std::optional<SharedGuestMemory> memory_;  // the run's segment, from Hello
  std::optional<shm::SharedSegment> slots_;  // the driver slot page, from Hello
  std::optional<DriverWatch> watch_;         // after slots_: it writes there
};

}  // namespace

int run_partition(int ipc_fd, proto::Partition role, PartitionLogic& logic) {
  boost::asio::io_context io;
  ipc::LocalSocket socket(io);
  boost::system::error_code error;
  socket.assign(boost::asio::local::stream_protocol(), ipc_fd, error);
  if (error) {
    std::fprintf(stderr, "%s: cannot use IPC descriptor %d: %s\n", role_name(role), ipc_fd,
                 error.message().c_str());
    return 1;
  }
  IpcHypervisor hv(socket, ipc::kDefaultMaxFrameBytes);
  try {
    PartitionLoop(role, logic, hv).run();
    return 0;
  } catch (const IpcFailure& failure) {
    std::fprintf(stderr, "%s: %s\n", role_name(role), failure.what());
    proto::PartitionToSim frame;
    frame.mutable_failure()->set_what(failure.what());
    (void)ipc::write_frame(socket, frame);  // best effort; the link may be gone
    return 1;
  }
}

int partition_main(int argc, char** argv, proto::Partition role, PartitionLogic& logic) {
  if (argc == 2 && std::strcmp(argv[1], "--version") == 0) {
    std::printf("%s %s\n", role_name(role), base::build_identity().c_str());
    return 0;
  }
  if (argc == 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
    std::printf(
        "usage: %s --ipc-fd FD | --version | --help\n"
        "%s is a simulated partition process; vmbus-sim starts it, with FD its end of the IPC "
        "socket.\n",
        role_name(role), role_name(role));
    return 0;
  }
  if (argc == 3 && std::strcmp(argv[1], "--ipc-fd") == 0) {
    char* end = nullptr;
    const long fd = std::strtol(argv[2], &end, 10);
    if (end != argv[2] && *end == '\0' && fd >= 0 && fd < 1024) {
      // A simulator that went away must not kill us mid-write with SIGPIPE;
      // the write error is reported instead.
      std::signal(SIGPIPE, SIG_IGN);
      return run_partition(static_cast<int>(fd), role, logic);
    }
  }
  std::fprintf(stderr,
               "usage: %s --ipc-fd FD | --version | --help\n"
               "%s is a simulated partition process; vmbus-sim starts it, with FD its end of "
               "the IPC socket.\n",
               role_name(role), role_name(role));
  return 2;
}

}  // namespace vmbus::partition
