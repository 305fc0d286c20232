// Ring dumps in and out, end to end: a snapshot_ring step writes a ring of
// a live run as an image; a channel that starts from that image (its
// inbound_ring_image) gives the guest's driver the same packets; a
// customer-style dump with a corrupt packet, built with `ring encode` and
// wrapped by `scenario from-ring`, reproduces the protocol error at the
// same offset; bad images are refused before anything runs.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "vmbus/trace/reader.h"

#include "cli_runs.h"

namespace {

namespace fs = std::filesystem;

using vmbus::runner::testing::CliRun;
using vmbus::runner::testing::run_vmbus_sim;
using vmbus::runner::testing::slurp;
using vmbus::runner::testing::TestDirectory;

// The guest driver's packet callbacks ("ProcessPacket #0 DISPATCH
// complete", "ProcessingComplete DISPATCH 3"), in order, and the packets
// its device dequeued. The channel's own callbacks (Opened, Started,
// PostStarted) are left out: a run that starts from an image has its
// packets before the driver has started.
struct GuestBehaviour {
  std::vector<std::string> callbacks;
  int dequeued = 0;
  std::vector<std::string> protocol_errors;
};

GuestBehaviour behaviour_in(const fs::path& trace) {
  const vmbus::trace::TraceReadResult read = vmbus::trace::read_trace(trace);
  EXPECT_TRUE(read.ok) << read.error;
  GuestBehaviour behaviour;
  for (const vmbus::proto::TraceRecord& record : read.trace.records) {
    if (!record.has_kmcl() || record.partition() != vmbus::proto::PARTITION_GUEST) {
      continue;
    }
    const vmbus::proto::KmclRecord& kmcl = record.kmcl();
    if (kmcl.kind() == "driver" && kmcl.detail().rfind("Process", 0) == 0) {
      behaviour.callbacks.push_back(kmcl.detail());
    } else if (kmcl.kind() == "dequeue") {
      ++behaviour.dequeued;
    } else if (kmcl.kind() == "protocol_error") {
      behaviour.protocol_errors.push_back(kmcl.detail());
    }
  }
  return behaviour;
}

class RingImages : public ::testing::Test {
 protected:
  fs::path write(const std::string& name, const std::string& text) {
    const fs::path path = dir_.path() / name;
    std::ofstream(path) << text;
    return path;
  }
  // Runs FILE with seed 1, keeping its trace; the trace's path.
  fs::path run(const fs::path& file, const std::string& name, CliRun* result = nullptr) {
    const fs::path traces = dir_.path() / "traces";
    const CliRun run = run_vmbus_sim(
        dir_.path(), "run --seed 1 --trace-dir " + traces.string() + " " + file.string());
    if (result != nullptr) {
      *result = run;
    }
    return traces / (name + ".seed1.trace");
  }

  TestDirectory dir_;
};

// The guest's DPC is held while the host writes three packets; the
// snapshot then holds them unread.
constexpr char kSnapshotSource[] = R"(name: "snapshot-source"
topology { channel { name: "net" } }
step {
  when { event { kmcl { callback: "PostStarted" } side: GUEST } }
  hold { side: GUEST context: "kmcl/1" }
}
step { host_send { channel: "net" count: 3 payload { text: "from the source run" } } }
step {
  after_us: 300
  snapshot_ring { channel: "net" ring: HOST_TO_GUEST_RING path: "net-inbound.img" }
}
step { release { side: GUEST context: "kmcl/1" } }
)";

constexpr char kFromImage[] = R"(name: "from-image"
topology { channel { name: "net" inbound_ring_image: "net-inbound.img" } }
step {
  when { event { kmcl { callback: "PostStarted" } side: GUEST } }
  spurious_interrupt { channel: "net" direction: HOST_TO_GUEST }
}
)";

TEST_F(RingImages, ARingImageTakenFromARunAndFedBackGivesTheGuestTheSameCallbacks) {
  CliRun source_run;
  const fs::path source =
      run(write("source.textproto", kSnapshotSource), "snapshot-source", &source_run);
  EXPECT_EQ(source_run.exit_code, 0) << source_run.out << source_run.err;
  const fs::path image = dir_.path() / "net-inbound.img";
  ASSERT_TRUE(fs::exists(image)) << source_run.out << source_run.err;
  EXPECT_EQ(fs::file_size(image), 4u * 4096u);
  // The image holds the three packets, unread.
  const CliRun decoded = run_vmbus_sim(dir_.path(), "ring decode " + image.string());
  EXPECT_EQ(decoded.exit_code, 0) << decoded.err;
  EXPECT_NE(decoded.out.find("\"read_index\":0,"), std::string::npos) << decoded.out;
  EXPECT_EQ(std::count(decoded.out.begin(), decoded.out.end(), '\n'), 4) << decoded.out;

  CliRun image_run;
  const fs::path fed = run(write("from-image.textproto", kFromImage), "from-image", &image_run);
  EXPECT_LE(image_run.exit_code, 1) << image_run.out << image_run.err;
  const GuestBehaviour before = behaviour_in(source);
  const GuestBehaviour after = behaviour_in(fed);
  EXPECT_EQ(before.dequeued, 3);
  EXPECT_EQ(after.dequeued, before.dequeued);
  EXPECT_EQ(after.callbacks, before.callbacks);
  EXPECT_TRUE(after.protocol_errors.empty());
}

TEST_F(RingImages, ACustomerDumpWithACorruptPacketReproducesTheProtocolErrorAtItsOffset) {
  // The dump a customer describes: one good packet, then one whose offset8
  // (4) is beyond its len8 (3), in a 4-page ring.
  write("dump.jsonl",
        R"({"type":6,"flags":0,"trans_id":1,"payload":"0102030405060708"}
{"type":6,"flags":0,"trans_id":2,"offset8":4,"len8":3,"payload":"00"}
)");
  const fs::path image = dir_.path() / "customer.img";
  CliRun step =
      run_vmbus_sim(dir_.path(), "ring encode --as-written --data-size 12288 " + image.string() +
                                     " < " + (dir_.path() / "dump.jsonl").string());
  ASSERT_EQ(step.exit_code, 0) << step.err;
  step = run_vmbus_sim(dir_.path(), "ring decode " + image.string());
  EXPECT_EQ(step.exit_code, 1);
  EXPECT_NE(step.out.find(R"({"error":"offset8_beyond_len8","offset":32})"), std::string::npos)
      << step.out;

  const fs::path scenario = dir_.path() / "customer.textproto";
  step = run_vmbus_sim(dir_.path(),
                       "scenario from-ring " + image.string() + " -o " + scenario.string());
  ASSERT_EQ(step.exit_code, 0) << step.err;
  const std::string text = slurp(scenario);
  EXPECT_NE(text.find("inbound_ring_image: \"customer.img\""), std::string::npos) << text;
  EXPECT_NE(text.find("#   offset 32: corrupt: offset8 is greater than len8"), std::string::npos)
      << text;

  const fs::path trace = run(scenario, "customer");
  const GuestBehaviour behaviour = behaviour_in(trace);
  EXPECT_EQ(behaviour.dequeued, 1);
  ASSERT_EQ(behaviour.protocol_errors.size(), 1u);
  EXPECT_NE(behaviour.protocol_errors[0].find("incoming ring corrupt: offset8_beyond_len8 at "
                                              "offset 32"),
            std::string::npos)
      << behaviour.protocol_errors[0];
}

TEST_F(RingImages, ImagesOfTheWrongSizeOrWithImpossibleIndicesAreRefusedBeforeAnythingRuns) {
  const fs::path image = dir_.path() / "small.img";
  std::ofstream(image, std::ios::binary) << std::string(8192, '\0');
  const fs::path file = write("uses-small.textproto",
                              "name: \"uses-small\"\ntopology { channel { name: \"net\" "
                              "inbound_ring_image: \"small.img\" } }\n");
  CliRun result;
  run(file, "uses-small", &result);
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find(file.string() + ":2:"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("small.img is 8192 bytes; the channel's ring is 4 pages (16384 "
                            "bytes, control page included)"),
            std::string::npos)
      << result.err;
  EXPECT_FALSE(fs::exists(dir_.path() / "traces" / "uses-small.seed1.trace"));

  std::string bytes(16384, '\0');
  bytes[0] = 5;  // write_index 5: not 8-byte aligned
  std::ofstream(dir_.path() / "small.img", std::ios::binary | std::ios::trunc) << bytes;
  run(file, "uses-small", &result);
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("write_index 5 is not an 8-byte aligned offset inside its "
                            "12288-byte data area"),
            std::string::npos)
      << result.err;

  const fs::path out = write("exists.textproto", "keep me\n");
  result =
      run_vmbus_sim(dir_.path(), "scenario from-ring " + image.string() + " -o " + out.string());
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(slurp(out), "keep me\n");
  result = run_vmbus_sim(dir_.path(), "scenario from-ring " + image.string());
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("has impossible indices: write_index is not a multiple of 8"),
            std::string::npos)
      << result.err;
}

}  // namespace
