// The hypervisor's links to its two partition processes.
//
// For each of vmbus-host and vmbus-guest, PartitionLinks owns the child
// process, the simulator's end of its Asio local socket, and the frames read
// from it and not yet taken. It starts the processes, runs the Hello
// handshake, sends frames, waits for a partition's next frame (declaring it
// hung when it does not answer within the response timeout, wall clock), and
// tells a crash or an exit from a bad frame (check()). Its event loop also
// wakes when the process is interrupted (interrupt.h), and check() turns
// that into the end of the run. Failures end the run: they are thrown as
// RunFailure.
//
// This is the only unit of the hypervisor that touches processes and
// sockets; what it must trace (a process started, exited or crashed; the
// partitions' own trace records) it hands to a LinkObserver -- the run loop --
// which stamps and writes it.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "vmbus/hypervisor/child_process.h"
#include "vmbus/hypervisor/side.h"
#include "vmbus/hypervisor/simulation.h"
#include "vmbus/ipc/asio.h"
#include "vmbus/ipc/frame.h"
#include "vmbus/proto/ipc.pb.h"

namespace vmbus::hypervisor {

// The partition a side is, as frames and trace records name it.
inline proto::Partition role_of(Side side) {
  return side == Side::kHost ? proto::PARTITION_HOST : proto::PARTITION_GUEST;
}

// Why a run ends early; thrown by the links and the run loop, and turned
// into the RunResult's outcome and detail in one place.
struct RunFailure {
  RunOutcome outcome;
  std::string detail;
  // The partition that crashed, hung or failed, when one did, and how:
  // "SIGSEGV", "exit code 1", "no answer within 10000 ms" (the words a
  // driver fault is reported with, driver_slot.h).
  std::optional<Side> side = std::nullopt;
  std::string how = "";
};

// What the links tell the run around them.
class LinkObserver {
 public:
  virtual ~LinkObserver() = default;
  // Trace records a partition sent, on their own or riding along a frame.
  virtual void on_partition_trace(Side side, const proto::TraceRecords& records) = 0;
  // A partition's process started, exited or crashed.
  virtual void on_process_event(Side side, proto::ProcessEvent::Kind kind,
                                const std::string& detail) = 0;
  // Where the run is, for failure messages: "step 12, t=3400ns".
  virtual std::string where() const = 0;
};

class PartitionLinks {
 public:
  PartitionLinks(std::chrono::milliseconds response_timeout, LinkObserver& observer);

  // Starts the partition's process with its end of a fresh socket pair as
  // descriptor 3, `segment_fd` (the guest memory) as descriptor 4 and
  // `slot_fd` (the driver slots) as descriptor 5. Throws RunFailure
  // (kSetupFailed) if it cannot.
  void start(Side side, const std::filesystem::path& binary, int segment_fd, int slot_fd = -1);

  // Sends `hello` and waits for the partition's HelloAck.
  proto::HelloAck handshake(Side side, const proto::SimToPartition& hello);

  // Sends a frame; a partition that is gone ends the run (check()).
  void send(Side side, const proto::SimToPartition& frame);

  // The partition's next frame; runs the event loop until there is one.
  proto::PartitionToSim await_frame(Side side);

  // A frame the partition has already sent, if any (free-running mode).
  std::optional<proto::PartitionToSim> take_waiting_frame(Side side);

  // Waits for the next thing on the event loop: a frame, an interrupt, a
  // timer.
  void run_one() { io_.run_one(); }

  // Throws RunFailure when the run was interrupted (kInterrupted) or a link
  // has failed: the partition crashed or exited (kPartitionCrashed), or sent
  // a frame that is not one (kProtocolError).
  void check();

  // Asks both partitions to exit and waits for them; an exit other than a
  // clean one ends the run, and so does an interrupt while waiting.
  void shut_down();

  // Kills (SIGKILL) and reaps `side`'s process, as a crash would.
  ChildExit kill(Side side);

  // Kills whatever still runs.
  void kill_all();

  [[noreturn]] void protocol_error(Side side, const std::string& what) const;

  // What the partition is doing, for failure messages.
  const std::string& state(Side side) const { return at(side).state; }
  void set_state(Side side, std::string state) { at(side).state = std::move(state); }

  int pid(Side side) const;  // -1 before it started

  // A wall-clock deadline on the links' event loop, for supervision only:
  // it never shapes a run.
  class Deadline {
   public:
    Deadline(PartitionLinks& links, std::chrono::milliseconds after);
    ~Deadline() { timer_.cancel(); }
    Deadline(const Deadline&) = delete;
    Deadline& operator=(const Deadline&) = delete;
    void restart();
    bool passed() const { return *passed_; }

   private:
    boost::asio::steady_timer timer_;
    std::chrono::milliseconds after_;
    std::shared_ptr<bool> passed_;
  };

 private:
  struct Link {
    Side side = Side::kHost;
    std::unique_ptr<ipc::LocalSocket> socket;
    std::unique_ptr<ipc::AsyncFrameReader> reader;
    std::unique_ptr<ChildProcess> process;
    std::deque<proto::PartitionToSim> inbox;
    std::optional<ipc::FrameStatus> error;
    std::string state = "starting";
  };

  Link& at(Side side) { return links_[side == Side::kHost ? 0 : 1]; }
  const Link& at(Side side) const { return links_[side == Side::kHost ? 0 : 1]; }
  void read_next(Link& link);
  proto::PartitionToSim take_frame(Link& link);
  void check(Link& link);
  void watch_interrupts();

  std::chrono::milliseconds response_timeout_;
  LinkObserver& observer_;
  boost::asio::io_context io_;
  // A copy of the process's interrupt descriptor on this loop: a signal
  // wakes run_one() wherever the run waits.
  std::optional<boost::asio::posix::stream_descriptor> interrupt_;
  Link links_[2];
};

}  // namespace vmbus::hypervisor
