// A partition process that breaks the IPC protocol on purpose, chosen by
// the environment variable VMBUS_FAKE_PARTITION_MODE:
//   garbage     answer Hello with a frame that is not a protobuf message
//   oversized   answer Hello with a length prefix of 2 GiB
//   wrong-reply answer Hello with StepDone
//   hang        read Hello and never answer
//   exit        read Hello and exit with code 7
//   truncated   answer Hello with half a frame, then exit
//   silent      answer Hello with a good HelloAck, then never send again
#include <cstdlib>
#include <cstring>
#include <string>
#include <unistd.h>

#include "vmbus/ipc/asio.h"
#include "vmbus/ipc/frame.h"
#include "vmbus/proto/ipc.pb.h"

int main() {
  const char* mode_env = std::getenv("VMBUS_FAKE_PARTITION_MODE");
  const std::string mode = mode_env != nullptr ? mode_env : "";
  boost::asio::io_context io;
  vmbus::ipc::LocalSocket socket(io);
  socket.assign(boost::asio::local::stream_protocol(), 3);
  vmbus::proto::SimToPartition hello;
  if (!vmbus::ipc::read_frame(socket, vmbus::ipc::kDefaultMaxFrameBytes, hello).ok()) {
    return 1;
  }
  auto raw = [&](const std::string& bytes) {
    boost::system::error_code ignored;
    boost::asio::write(socket, boost::asio::buffer(bytes), ignored);
  };
  if (mode == "garbage") {
    raw(std::string("\x0a\x00\x00\x00", 4) + std::string(10, '\xff'));
  } else if (mode == "oversized") {
    raw(std::string("\x00\x00\x00\x80", 4));
  } else if (mode == "wrong-reply") {
    vmbus::proto::PartitionToSim reply;
    reply.mutable_step_done()->set_step_number(1);
    (void)vmbus::ipc::write_frame(socket, reply);
  } else if (mode == "hang") {
    ::pause();
  } else if (mode == "exit") {
    return 7;
  } else if (mode == "silent") {
    vmbus::proto::PartitionToSim reply;
    reply.mutable_hello_ack()->set_ipc_version(hello.hello().ipc_version());
    reply.mutable_hello_ack()->set_role(hello.hello().role());
    reply.mutable_hello_ack()->set_pid(static_cast<std::uint32_t>(::getpid()));
    // As a host, listen where a guest posts (the message connection ids of
    // protocols before 5.0 and from 5.0 on), so that its posts arrive.
    reply.mutable_hello_ack()->add_message_connection_ids(1);
    reply.mutable_hello_ack()->add_message_connection_ids(4);
    (void)vmbus::ipc::write_frame(socket, reply);
  } else if (mode == "truncated") {
    raw(std::string("\x64\x00\x00\x00", 4) + std::string(10, '\x08'));
    return 0;
  }
  // Keep the socket open until the simulator gives up on us.
  char byte;
  while (::read(3, &byte, 1) > 0) {
  }
  return 0;
}
