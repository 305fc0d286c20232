#include "partition_link.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <signal.h>
#include <utility>
#include <vector>

#include "vmbus/hypervisor/interrupt.h"
#include "vmbus/ipc/version.h"

namespace vmbus::hypervisor {
namespace {

namespace asio = boost::asio;

void set_cloexec(int fd) {
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
}

}  // namespace

PartitionLinks::PartitionLinks(std::chrono::milliseconds response_timeout, LinkObserver& observer)
    : response_timeout_(response_timeout), observer_(observer) {
  links_[0].side = Side::kHost;
  links_[1].side = Side::kGuest;
  watch_interrupts();
}

// The wait is armed once, before the loop ever runs: Asio's epoll reactor
// is edge-triggered, and an edge that came before any wait was queued would
// be lost. Once it completes the process is interrupted for good, and
// check() ends the run before the loop waits again.
void PartitionLinks::watch_interrupts() {
  const int fd = interrupt_fd();
  if (fd < 0) {
    return;  // nobody catches the signals (an in-process test)
  }
  const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) {
    throw RunFailure{RunOutcome::kSetupFailed,
                     std::string("cannot watch for interrupts: ") + std::strerror(errno)};
  }
  interrupt_.emplace(io_, copy);
  interrupt_->async_wait(boost::asio::posix::descriptor_base::wait_read,
                         [](const boost::system::error_code&) {});
}

void PartitionLinks::start(Side side, const std::filesystem::path& binary, int segment_fd,
                           int slot_fd) {
  Link& link = at(side);
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
        child_end.native_handle(), segment_fd, slot_fd);
  } catch (const std::exception& e) {
    throw RunFailure{RunOutcome::kSetupFailed, std::string(partition_name(side)) + ": " + e.what()};
  }
  child_end.close();
  link.reader = std::make_unique<ipc::AsyncFrameReader>(*link.socket, ipc::kDefaultMaxFrameBytes);
  read_next(link);
  observer_.on_process_event(side, proto::ProcessEvent::KIND_STARTED, "");
}

void PartitionLinks::read_next(Link& link) {
  link.reader->read_next([this, &link](const ipc::FrameStatus& status, std::string body) {
    if (!status.ok()) {
      link.error = status;
      return;
    }
    proto::PartitionToSim frame;
    if (ipc::FrameStatus parsed = ipc::decode_frame_body(body, frame); !parsed.ok()) {
      link.error = parsed;
      return;
    }
    link.inbox.push_back(std::move(frame));
    read_next(link);
  });
}

proto::HelloAck PartitionLinks::handshake(Side side, const proto::SimToPartition& hello) {
  send(side, hello);
  set_state(side, "starting up");
  proto::PartitionToSim reply = await_frame(side);
  while (reply.has_trace()) {
    observer_.on_partition_trace(side, reply.trace());
    reply = await_frame(side);
  }
  if (reply.has_failure()) {
    throw RunFailure{
        RunOutcome::kPartitionFailed,
        std::string(partition_name(side)) + " failed to start: " + reply.failure().what(), side,
        "failed"};
  }
  if (!reply.has_hello_ack()) {
    protocol_error(side, "did not answer Hello with HelloAck");
  }
  if (reply.hello_ack().ipc_version() != ipc::kIpcVersion ||
      reply.hello_ack().role() != role_of(side)) {
    protocol_error(side, "answered Hello with the wrong version or role");
  }
  return reply.hello_ack();
}

void PartitionLinks::send(Side side, const proto::SimToPartition& frame) {
  Link& link = at(side);
  if (ipc::FrameStatus status = ipc::write_frame(*link.socket, frame); !status.ok()) {
    // The peer is gone; find out how (crash vs. exit) from the link.
    link.error = ipc::FrameStatus{ipc::FrameError::kIo, status.detail};
    link.inbox.clear();
    check();
  }
}

proto::PartitionToSim PartitionLinks::await_frame(Side side) {
  Link& link = at(side);
  const Deadline answer(*this, response_timeout_);
  while (link.inbox.empty()) {
    check();
    if (answer.passed()) {
      const std::string silence =
          "no answer within " + std::to_string(response_timeout_.count()) + " ms";
      throw RunFailure{RunOutcome::kPartitionHung,
                       std::string(partition_name(side)) + " did not answer within " +
                           std::to_string(response_timeout_.count()) + " ms while " + link.state +
                           " (" + observer_.where() + ")",
                       side, silence};
    }
    io_.run_one();
  }
  return take_frame(link);
}

std::optional<proto::PartitionToSim> PartitionLinks::take_waiting_frame(Side side) {
  Link& link = at(side);
  if (link.inbox.empty()) {
    return std::nullopt;
  }
  return take_frame(link);
}

// The trace records that ride along with a frame happened before its body:
// the observer gets them first.
proto::PartitionToSim PartitionLinks::take_frame(Link& link) {
  proto::PartitionToSim frame = std::move(link.inbox.front());
  link.inbox.pop_front();
  if (frame.has_trace_before()) {
    observer_.on_partition_trace(link.side, frame.trace_before());
    frame.clear_trace_before();
  }
  return frame;
}

void PartitionLinks::check() {
  if (interrupted()) {
    throw RunFailure{RunOutcome::kInterrupted, interrupt_text()};
  }
  check(at(Side::kHost));
  check(at(Side::kGuest));
}

// A link has failed once its reader stopped and every frame before the
// failure has been taken.
void PartitionLinks::check(Link& link) {
  if (!link.error || !link.inbox.empty()) {
    return;
  }
  const std::string name = partition_name(link.side);
  const ipc::FrameStatus& error = *link.error;
  if (error.error == ipc::FrameError::kClosed || error.error == ipc::FrameError::kTruncated ||
      error.error == ipc::FrameError::kIo) {
    const ChildExit exit = link.process->wait_or_kill(1'000);
    observer_.on_process_event(
        link.side,
        exit.signalled ? proto::ProcessEvent::KIND_CRASHED : proto::ProcessEvent::KIND_EXITED,
        exit.describe());
    // An interrupt during the wait was what the user asked for: it wins
    // over whatever the wait found.
    if (interrupted()) {
      throw RunFailure{RunOutcome::kInterrupted, interrupt_text()};
    }
    throw RunFailure{
        RunOutcome::kPartitionCrashed,
        name + " " + exit.describe() + " while " + link.state + " (" + observer_.where() + ")",
        link.side, exit.short_name()};
  }
  throw RunFailure{RunOutcome::kProtocolError, name + " sent a bad frame while " + link.state +
                                                   ": " + ipc::frame_error_name(error.error) +
                                                   ": " + error.detail};
}

void PartitionLinks::shut_down() {
  for (Link& link : links_) {
    proto::SimToPartition frame;
    frame.mutable_shutdown()->set_reason("run complete");
    (void)ipc::write_frame(*link.socket, frame);
  }
  for (Link& link : links_) {
    const ChildExit exit = link.process->wait_or_kill(static_cast<int>(response_timeout_.count()));
    observer_.on_process_event(link.side, proto::ProcessEvent::KIND_EXITED, exit.describe());
    if (interrupted()) {
      throw RunFailure{RunOutcome::kInterrupted, interrupt_text()};
    }
    if (exit.signalled || exit.code != 0) {
      throw RunFailure{RunOutcome::kPartitionCrashed, std::string(partition_name(link.side)) + " " +
                                                          exit.describe() + " after shutdown"};
    }
  }
}

ChildExit PartitionLinks::kill(Side side) {
  const ChildExit exit = at(side).process->kill_and_reap();
  observer_.on_process_event(side, proto::ProcessEvent::KIND_CRASHED, exit.describe());
  return exit;
}

void PartitionLinks::kill_all() {
  for (Link& link : links_) {
    if (link.process) {
      link.process->kill_and_reap();
    }
  }
}

void PartitionLinks::protocol_error(Side side, const std::string& what) const {
  throw RunFailure{RunOutcome::kProtocolError,
                   std::string(partition_name(side)) + " " + what + " while " + state(side)};
}

int PartitionLinks::pid(Side side) const {
  const Link& link = at(side);
  return link.process ? link.process->pid() : -1;
}

PartitionLinks::Deadline::Deadline(PartitionLinks& links, std::chrono::milliseconds after)
    : timer_(links.io_), after_(after) {
  restart();
}

void PartitionLinks::Deadline::restart() {
  timer_.cancel();
  passed_ = std::make_shared<bool>(false);
  timer_.expires_after(after_);
  timer_.async_wait([passed = passed_](const boost::system::error_code& error) {
    if (!error) {
      *passed = true;
    }
  });
}

}  // namespace vmbus::hypervisor
