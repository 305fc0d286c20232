// The floor that engine_probe and system_bench measure the simulator's IPC
// against: an 8-byte round trip over a Unix socket pair between two
// processes.
#pragma once

#include <cstdint>
#include <optional>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

namespace vmbus::bench {

struct EchoPeer {
  int fd = -1;       // this process's end of the socket pair
  pid_t child = -1;  // the echoing process; reap it after closing `fd`
};

// Forks a child that sends back every 8-byte word it reads on its end of a
// new socket pair, until this end is closed. std::nullopt (errno set) if
// the socket pair or the fork failed.
inline std::optional<EchoPeer> start_echo_peer() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) {
    return std::nullopt;
  }
  const pid_t child = ::fork();
  if (child < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return std::nullopt;
  }
  if (child == 0) {
    ::close(fds[0]);
    std::uint64_t word = 0;
    while (::read(fds[1], &word, sizeof(word)) == static_cast<ssize_t>(sizeof(word))) {
      if (::write(fds[1], &word, sizeof(word)) != static_cast<ssize_t>(sizeof(word))) {
        break;
      }
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  return EchoPeer{fds[0], child};
}

// Sends `word` and reads it back; false if the peer did not return it.
inline bool echo_round_trip(int fd, std::uint64_t word) {
  std::uint64_t back = 0;
  return ::write(fd, &word, sizeof(word)) == static_cast<ssize_t>(sizeof(word)) &&
         ::read(fd, &back, sizeof(back)) == static_cast<ssize_t>(sizeof(back)) && back == word;
}

}  // namespace vmbus::bench
