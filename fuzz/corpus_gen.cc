// Turns the scenario library's traces and ring images into seed inputs for
// the fuzz targets, in each target's input format (fuzz/targets/*.cc), so
// fuzzing starts from what real runs look like rather than from nothing.
//
//   fuzz_corpus_gen OUTDIR TRACE... [--ring IMAGE...]
//
// Writes OUTDIR/<target>/<hash> files (duplicates collapse). The caller
// (scripts/fuzz-corpus.sh) then keeps only the inputs that add coverage.
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "vmbus/ipc/frame.h"
#include "vmbus/proto/ipc.pb.h"
#include "vmbus/trace/reader.h"
#include "vmbus/trace/writer.h"
#include "vmbus/wire/codec.h"
#include "vmbus/wire/synic.h"

namespace fs = std::filesystem;

namespace {

class Seeds {
 public:
  explicit Seeds(fs::path root) : root_(std::move(root)) {}

  void add(const std::string& target, const std::string& bytes) {
    const fs::path dir = root_ / target;
    fs::create_directories(dir);
    char name[17];
    std::snprintf(name, sizeof(name), "%016zx", std::hash<std::string>{}(bytes));
    std::ofstream(dir / name, std::ios::binary) << bytes;
  }

 private:
  fs::path root_;
};

template <typename T>
void put(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof(value));
}

// FuzzInput::bytes(): a 16-bit length, then the bytes.
void put_run(std::string& out, const std::string& bytes) {
  put(out, static_cast<std::uint16_t>(bytes.size()));
  out += bytes;
}

std::string slot_bytes(const std::string& payload) {
  const vmbus::wire::HvMessage slot = vmbus::wire::make_hv_message(
      std::span(reinterpret_cast<const std::byte*>(payload.data()), payload.size()));
  return std::string(reinterpret_cast<const char*>(&slot), sizeof(slot));
}

void from_trace(const vmbus::trace::TraceFile& trace, const fs::path& path, Seeds& seeds) {
  using vmbus::proto::PARTITION_GUEST;
  using vmbus::proto::PARTITION_HOST;
  std::string gpadl;
  put(gpadl, std::uint32_t{4095});  // 4096 pages at most
  std::string stream;
  std::string ipc;
  put(ipc, std::uint32_t{65535});  // frames up to 64 KiB
  for (const vmbus::proto::TraceRecord& record : trace.records) {
    if (!record.has_message() ||
        record.message().stage() != vmbus::proto::MessageEvent::STAGE_POSTED) {
      continue;
    }
    const vmbus::proto::MessageEvent& message = record.message();
    const std::uint32_t receiver = message.to() == PARTITION_HOST    ? 1
                                   : message.to() == PARTITION_GUEST ? 2
                                                                     : 0;
    std::string one;
    put(one, receiver);
    seeds.add("channel_message", one + slot_bytes(message.payload()));
    if (message.to() == PARTITION_HOST) {
      put_run(gpadl, message.payload());
    }
    vmbus::proto::SimToPartition deliver;
    deliver.mutable_deliver_message()->set_hv_message(slot_bytes(message.payload()));
    vmbus::proto::PartitionToSim post;
    post.mutable_post_message()->set_payload(message.payload());
    post.mutable_post_message()->set_connection_id(message.connection_id());
    stream += vmbus::ipc::encode_frame(post) + vmbus::ipc::encode_frame(deliver);
  }
  seeds.add("gpadl", gpadl);
  vmbus::proto::PartitionToSim records;
  for (std::size_t i = 0; i < trace.records.size() && i < 40; ++i) {
    *records.mutable_trace()->add_records() = trace.records[i];
  }
  stream += vmbus::ipc::encode_frame(records);
  for (std::size_t at = 0; at < stream.size() && at < 16 * 4096; at += 4096) {
    put_run(ipc, stream.substr(at, 4096));
  }
  seeds.add("ipc_frame", ipc);

  // A short trace: the header and the first records, as the writer writes them.
  const fs::path short_trace =
      fs::temp_directory_path() / ("vmbus-corpus-" + path.filename().string());
  {
    vmbus::trace::TraceWriter writer;
    writer.open(short_trace, trace.header);
    for (std::size_t i = 0; i < trace.records.size() && i < 60; ++i) {
      vmbus::proto::TraceRecord record = trace.records[i];
      writer.write(record);
    }
    writer.close();
  }
  std::ifstream in(short_trace, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  fs::remove(short_trace);
  seeds.add("trace_read", bytes.str());
}

void from_ring_image(const fs::path& path, Seeds& seeds) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream image;
  image << in.rdbuf();
  const std::string bytes = image.str();
  if (bytes.size() < 2 * 4096 || bytes.size() % 4096 != 0 || bytes.size() > 3 * 4096) {
    return;  // the targets use rings of one or two data pages
  }
  seeds.add("ring_decode", bytes);
  const std::uint32_t data_pages = static_cast<std::uint32_t>(bytes.size() / 4096 - 1);
  std::string reader;
  put(reader, std::uint32_t{data_pages - 1});
  reader.append(bytes, 0, 16);       // write_index, read_index, interrupt_mask, pending_send_sz
  reader.append(bytes, 64, 4);       // feature_bits
  put(reader, std::uint32_t{1023});  // maximum packet 8200 bytes
  put_run(reader, bytes.substr(4096, 4096 * std::size_t{data_pages}));
  seeds.add("ring_reader", reader);
}

// The writer's inputs have no recorded form: a few plain sessions.
void writer_seeds(Seeds& seeds) {
  for (std::uint32_t packets : {1u, 4u, 16u}) {
    std::string w;
    put(w, std::uint32_t{0});  // one data page
    put(w, std::uint32_t{0});  // start index 0
    put(w, std::uint32_t{1});  // pending_send_sz feature
    for (std::uint32_t i = 0; i < packets; ++i) {
      put_run(w, std::string(8 + 24 * i, static_cast<char>('a' + i)));
      put(w, std::uint64_t{i + 1});  // trans_id
      put(w, std::uint16_t{1});      // completion requested
      for (int move = 0; move < 3; ++move) {
        put(w, std::uint32_t{4});  // attacker: nothing
      }
    }
    seeds.add("ring_writer", w);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: fuzz_corpus_gen OUTDIR TRACE... [--ring IMAGE...]\n";
    return 2;
  }
  Seeds seeds(argv[1]);
  bool rings = false;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--ring") {
      rings = true;
    } else if (rings) {
      from_ring_image(arg, seeds);
    } else {
      const vmbus::trace::TraceReadResult read = vmbus::trace::read_trace(fs::path(arg));
      if (!read.ok) {
        std::cerr << read.error << "\n";
        return 1;
      }
      from_trace(read.trace, arg, seeds);
    }
  }
  writer_seeds(seeds);
  return 0;
}
