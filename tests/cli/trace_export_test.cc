// vmbus-sim trace export --format=chrome: the exact events written for each
// kind of record, the tracks, the ring counters, the flows, JSON escaping,
// and the errors that leave OUT untouched.
#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "vmbus/cli/chrome_export.h"
#include "vmbus/trace/writer.h"

#include "tool_test_util.h"

namespace vmbus::cli {
namespace {

using testing::run_cli;
using testing::RunResult;
using testing::ScratchDir;

// --- a strict JSON validator (RFC 8259), enough to prove the output parses ---------------

class JsonValidator {
 public:
  explicit JsonValidator(std::string_view text) : text_(text) {}

  // Empty when `text` is exactly one JSON value (with optional whitespace).
  std::string error() {
    skip_space();
    if (!value()) {
      return failure_;
    }
    skip_space();
    if (pos_ != text_.size()) {
      return fail("trailing text");
    }
    return "";
  }

 private:
  static constexpr int kMaxDepth = 64;

  std::string fail(const std::string& what) {
    if (failure_.empty()) {
      failure_ = what + " at byte " + std::to_string(pos_);
    }
    return failure_;
  }

  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return at_end() ? '\0' : text_[pos_]; }

  void skip_space() {
    while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r')) {
      ++pos_;
    }
  }

  bool expect(char c) {
    if (peek() != c) {
      fail(std::string("expected '") + c + "'");
      return false;
    }
    ++pos_;
    return true;
  }

  bool value() {
    if (++depth_ > kMaxDepth) {
      fail("nested too deeply");
      return false;
    }
    bool ok = false;
    switch (peek()) {
      case '{':
        ok = object();
        break;
      case '[':
        ok = array();
        break;
      case '"':
        ok = string();
        break;
      case 't':
        ok = literal("true");
        break;
      case 'f':
        ok = literal("false");
        break;
      case 'n':
        ok = literal("null");
        break;
      default:
        ok = number();
        break;
    }
    --depth_;
    return ok;
  }

  bool object() {
    ++pos_;
    skip_space();
    if (peek() == '}') {
      ++pos_;
      return true;
    }
    while (true) {
      skip_space();
      if (peek() != '"' || !string()) {
        fail("expected a member name");
        return false;
      }
      skip_space();
      if (!expect(':')) {
        return false;
      }
      skip_space();
      if (!value()) {
        return false;
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      return expect('}');
    }
  }

  bool array() {
    ++pos_;
    skip_space();
    if (peek() == ']') {
      ++pos_;
      return true;
    }
    while (true) {
      skip_space();
      if (!value()) {
        return false;
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      return expect(']');
    }
  }

  static bool is_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  }

  bool string() {
    ++pos_;
    while (!at_end()) {
      const auto byte = static_cast<unsigned char>(text_[pos_]);
      if (byte == '"') {
        ++pos_;
        return true;
      }
      if (byte < 0x20) {
        fail("raw control character in a string");
        return false;
      }
      if (byte == '\\') {
        ++pos_;
        const char escaped = peek();
        if (escaped == 'u') {
          for (int i = 1; i <= 4; ++i) {
            if (pos_ + static_cast<std::size_t>(i) >= text_.size() ||
                !is_hex(text_[pos_ + static_cast<std::size_t>(i)])) {
              fail("bad \\u escape");
              return false;
            }
          }
          pos_ += 5;
          continue;
        }
        if (std::string_view("\"\\/bfnrt").find(escaped) == std::string_view::npos || at_end()) {
          fail("bad escape");
          return false;
        }
        ++pos_;
        continue;
      }
      if (byte >= 0x80) {
        // Lead byte and continuation bytes of one UTF-8 sequence.
        const std::size_t length = byte > 0xF4    ? 0
                                   : byte >= 0xF0 ? 4
                                   : byte >= 0xE0 ? 3
                                   : byte >= 0xC2 ? 2
                                                  : 0;
        if (length == 0 || pos_ + length > text_.size()) {
          fail("bad UTF-8");
          return false;
        }
        for (std::size_t i = 1; i < length; ++i) {
          if ((static_cast<unsigned char>(text_[pos_ + i]) & 0xC0) != 0x80) {
            fail("bad UTF-8");
            return false;
          }
        }
        pos_ += length;
        continue;
      }
      ++pos_;
    }
    fail("unterminated string");
    return false;
  }

  bool literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) {
      fail("bad literal");
      return false;
    }
    pos_ += word.size();
    return true;
  }

  bool digits() {
    const std::size_t begin = pos_;
    while (peek() >= '0' && peek() <= '9') {
      ++pos_;
    }
    return pos_ > begin;
  }

  bool number() {
    if (peek() == '-') {
      ++pos_;
    }
    if (peek() == '0') {
      ++pos_;
    } else if (!digits()) {
      fail("expected a value");
      return false;
    }
    if (peek() == '.') {
      ++pos_;
      if (!digits()) {
        fail("expected digits after '.'");
        return false;
      }
    }
    if (peek() == 'e' || peek() == 'E') {
      ++pos_;
      if (peek() == '+' || peek() == '-') {
        ++pos_;
      }
      if (!digits()) {
        fail("expected exponent digits");
        return false;
      }
    }
    return true;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  int depth_ = 0;
  std::string failure_;
};

TEST(JsonValidator, AcceptsJsonAndRefusesWhatIsNot) {
  EXPECT_EQ(JsonValidator(R"({"a":[1,-2.5e3,"x\n\u00e9",true,null,{}]})").error(), "");
  EXPECT_NE(JsonValidator(R"({"a":1,})").error(), "");
  EXPECT_NE(JsonValidator("{\"a\":\"raw\nnewline\"}").error(), "");
  EXPECT_NE(JsonValidator(R"({"a":"\q"})").error(), "");
  EXPECT_NE(JsonValidator(R"({"a":01})").error(), "");
  EXPECT_NE(JsonValidator("{\"a\":\"\xff\"}").error(), "");
  EXPECT_NE(JsonValidator(R"({"a":1} x)").error(), "");
}

// --- building traces ---------------------------------------------------------------------

proto::TraceHeader sample_header() {
  proto::TraceHeader header;
  header.set_format_version(trace::kTraceFormatVersion);
  header.set_seed(7);
  header.set_scenario("export \"sample\"");
  header.set_mode(proto::SCHEDULING_MODE_DETERMINISTIC);
  return header;
}

// Records as the writer leaves them: sequence numbers dense from 0.
std::vector<proto::TraceRecord> numbered(std::vector<proto::TraceRecord> records) {
  for (std::size_t i = 0; i < records.size(); ++i) {
    records[i].set_sequence(i);
  }
  return records;
}

void write_trace(const std::filesystem::path& path, std::vector<proto::TraceRecord> records) {
  trace::TraceWriter writer;
  writer.open(path, sample_header());
  for (proto::TraceRecord& record : records) {
    writer.write(record);
  }
  writer.close();
}

proto::TraceRecord record_at(std::uint64_t time_ns, proto::Partition partition,
                             const std::string& context) {
  proto::TraceRecord record;
  record.set_time_ns(time_ns);
  record.set_partition(partition);
  record.set_context(context);
  return record;
}

proto::TraceRecord step(std::uint64_t time_ns, std::uint64_t number, const std::string& chosen) {
  proto::TraceRecord record = record_at(time_ns, proto::PARTITION_UNSPECIFIED, "");
  record.mutable_scheduler()->set_step_number(number);
  record.mutable_scheduler()->add_ready(chosen);
  record.mutable_scheduler()->set_chosen(0);
  return record;
}

proto::TraceRecord message(std::uint64_t time_ns, const std::string& decoded) {
  proto::TraceRecord record = record_at(time_ns, proto::PARTITION_UNSPECIFIED, "");
  record.mutable_message()->set_stage(proto::MessageEvent::STAGE_POSTED);
  record.mutable_message()->set_from(proto::PARTITION_GUEST);
  record.mutable_message()->set_to(proto::PARTITION_HOST);
  record.mutable_message()->set_decoded(decoded);
  return record;
}

proto::TraceRecord ring(std::uint64_t time_ns, proto::Partition partition,
                        const std::string& context, std::uint32_t relid,
                        const std::string& which_ring, const std::string& op,
                        std::uint32_t write_index, std::uint32_t read_index, std::uint32_t bytes) {
  proto::TraceRecord record = record_at(time_ns, partition, context);
  auto* e = record.mutable_ring();
  e->set_child_relid(relid);
  e->set_ring(which_ring);
  e->set_op(op);
  e->set_write_index(write_index);
  e->set_read_index(read_index);
  e->set_bytes(bytes);
  return record;
}

proto::TraceRecord kmcl(std::uint64_t time_ns, const std::string& context, const std::string& kind,
                        std::uint64_t handle, const std::string& detail) {
  proto::TraceRecord record = record_at(time_ns, proto::PARTITION_GUEST, context);
  auto* e = record.mutable_kmcl();
  e->set_kind(kind);
  e->set_channel(0);
  e->set_handle(handle);
  e->set_irql(2);
  e->set_detail(detail);
  return record;
}

proto::TraceRecord completion(std::uint64_t time_ns, proto::Partition partition,
                              std::uint32_t relid, std::uint64_t trans_id) {
  proto::TraceRecord record = record_at(time_ns, partition, "chan/1");
  auto* e = record.mutable_completion();
  e->set_child_relid(relid);
  e->set_trans_id(trans_id);
  e->set_status("STATUS_SUCCESS");
  e->set_bytes(0);
  return record;
}

proto::TraceRecord note(std::uint64_t time_ns, proto::Partition partition,
                        const std::string& context, const std::string& text) {
  proto::TraceRecord record = record_at(time_ns, partition, context);
  record.mutable_note()->set_text(text);
  return record;
}

std::string export_json(const std::vector<proto::TraceRecord>& records) {
  std::ostringstream out;
  write_chrome_trace(sample_header(), numbered(records), out);
  return out.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

// The event lines: everything between "traceEvents":[ and ]}, commas dropped.
std::vector<std::string> event_lines(const std::string& json) {
  std::vector<std::string> events;
  bool inside = false;
  for (std::string line : lines_of(json)) {
    if (line == "\"traceEvents\":[") {
      inside = true;
      continue;
    }
    if (line == "]}") {
      break;
    }
    if (inside) {
      if (!line.empty() && line.back() == ',') {
        line.pop_back();
      }
      events.push_back(line);
    }
  }
  return events;
}

std::vector<std::string> events_containing(const std::string& json, std::string_view text) {
  std::vector<std::string> found;
  for (const std::string& line : event_lines(json)) {
    if (line.find(text) != std::string::npos) {
      found.push_back(line);
    }
  }
  return found;
}

// --- the document and its tracks ---------------------------------------------------------

TEST(TraceExport, WritesOneJsonObjectWithTimeUnitAndRunDetails) {
  const std::string json = export_json({note(1500, proto::PARTITION_HOST, "msg", "up")});

  EXPECT_EQ(JsonValidator(json).error(), "") << json;
  EXPECT_EQ(json,
            "{\"displayTimeUnit\":\"ns\",\n"
            "\"otherData\":{\"source\":\"vmbus-sim trace export\",\"trace_format_version\":\"5\","
            "\"seed\":\"7\",\"scenario\":\"export \\\"sample\\\"\",\"build\":\"an unknown build\","
            "\"scheduling_mode\":\"deterministic\",\"records\":\"1\"},\n"
            "\"traceEvents\":[\n"
            R"({"name":"process_name","ph":"M","pid":1,"args":{"name":"host"}},)"
            "\n"
            R"({"name":"process_sort_index","ph":"M","pid":1,"args":{"sort_index":1}},)"
            "\n"
            R"({"name":"thread_name","ph":"M","pid":1,"tid":10,"args":{"name":"msg"}},)"
            "\n"
            R"({"name":"thread_sort_index","ph":"M","pid":1,"tid":10,"args":{"sort_index":10}},)"
            "\n"
            R"({"name":"note","cat":"note","ph":"i","s":"t","ts":1.500,"pid":1,"tid":10,)"
            R"("args":{"event":"up","sequence":0}})"
            "\n]}\n");
}

TEST(TraceExport, NamesEachPartitionAsAProcessAndEachContextAsAThreadInAStableOrder) {
  const std::string json = export_json({
      note(0, proto::PARTITION_GUEST, "dpc/10", "a"),
      note(0, proto::PARTITION_UNSPECIFIED, "", "b"),
      note(0, proto::PARTITION_GUEST, "dpc/2", "c"),
      note(0, proto::PARTITION_HOST, "msg", "d"),
      note(0, proto::PARTITION_GUEST, "", "e"),
  });

  const std::vector<std::string> expected = {
      R"({"name":"process_name","ph":"M","pid":1,"args":{"name":"host"}})",
      R"({"name":"process_sort_index","ph":"M","pid":1,"args":{"sort_index":1}})",
      R"({"name":"thread_name","ph":"M","pid":1,"tid":10,"args":{"name":"msg"}})",
      R"({"name":"thread_sort_index","ph":"M","pid":1,"tid":10,"args":{"sort_index":10}})",
      R"({"name":"process_name","ph":"M","pid":2,"args":{"name":"guest"}})",
      R"({"name":"process_sort_index","ph":"M","pid":2,"args":{"sort_index":2}})",
      R"j({"name":"thread_name","ph":"M","pid":2,"tid":11,"args":{"name":"(no context)"}})j",
      R"({"name":"thread_sort_index","ph":"M","pid":2,"tid":11,"args":{"sort_index":11}})",
      R"({"name":"thread_name","ph":"M","pid":2,"tid":12,"args":{"name":"dpc/2"}})",
      R"({"name":"thread_sort_index","ph":"M","pid":2,"tid":12,"args":{"sort_index":12}})",
      R"({"name":"thread_name","ph":"M","pid":2,"tid":13,"args":{"name":"dpc/10"}})",
      R"({"name":"thread_sort_index","ph":"M","pid":2,"tid":13,"args":{"sort_index":13}})",
      R"({"name":"process_name","ph":"M","pid":3,"args":{"name":"hypervisor"}})",
      R"({"name":"process_sort_index","ph":"M","pid":3,"args":{"sort_index":3}})",
      R"({"name":"thread_name","ph":"M","pid":3,"tid":14,"args":{"name":"hypervisor"}})",
      R"({"name":"thread_sort_index","ph":"M","pid":3,"tid":14,"args":{"sort_index":14}})",
  };
  const std::vector<std::string> events = event_lines(json);
  ASSERT_GE(events.size(), expected.size()) << json;
  EXPECT_EQ(std::vector<std::string>(events.begin(),
                                     events.begin() + static_cast<std::ptrdiff_t>(expected.size())),
            expected);
  // The simulator's own note is on the hypervisor's thread.
  EXPECT_EQ(events_containing(json, "\"event\":\"b\""),
            std::vector<std::string>{R"({"name":"note","cat":"note","ph":"i","s":"t","ts":0.000,)"
                                     R"("pid":3,"tid":14,"args":{"event":"b","sequence":1}})"});
}

// --- steps and instants ------------------------------------------------------------------

TEST(TraceExport, SchedulerStepIsACompleteEventOnTheChosenContextUntilTheNextStep) {
  const std::string json = export_json({
      step(1000, 1, "host:msg"),
      note(1200, proto::PARTITION_HOST, "msg", "handled"),
      step(3500, 2, "guest:kmcl/1/dpc/1"),
  });

  EXPECT_EQ(events_containing(json, "\"ph\":\"X\""),
            (std::vector<std::string>{
                R"({"name":"step 1","cat":"scheduler","ph":"X","ts":1.000,"dur":2.500,"pid":1,)"
                R"j("tid":10,"args":{"event":"step 1: host:msg (1 of 1 ready)","sequence":0}})j",
                R"({"name":"step 2","cat":"scheduler","ph":"X","ts":3.500,"dur":1.000,"pid":2,)"
                R"j("tid":11,"args":{"event":"step 2: guest:kmcl/1/dpc/1 (1 of 1 ready)",)j"
                R"("sequence":2}})",
            }));
}

TEST(TraceExport, SignalsAndInterruptsAreInstantsNamedByTheirKind) {
  proto::TraceRecord interrupt = record_at(61'435, proto::PARTITION_UNSPECIFIED, "");
  interrupt.mutable_signal()->set_stage(proto::SignalRecord::STAGE_DELIVERED);
  interrupt.mutable_signal()->set_from(proto::PARTITION_HOST);
  interrupt.mutable_signal()->set_to(proto::PARTITION_GUEST);
  interrupt.mutable_signal()->set_child_relid(1);
  proto::TraceRecord fault = record_at(62'000, proto::PARTITION_UNSPECIFIED, "");
  fault.mutable_fault()->set_kind("interrupt_dropped");
  fault.mutable_fault()->set_detail("host->guest relid 1");

  const std::string json = export_json({interrupt, fault});

  EXPECT_EQ(events_containing(json, "\"ph\":\"i\""),
            (std::vector<std::string>{
                R"({"name":"signal delivered","cat":"signal","ph":"i","s":"t","ts":61.435,)"
                R"("pid":3,"tid":10,"args":{"event":"signal delivered host->guest relid 1",)"
                R"("sequence":0}})",
                R"({"name":"fault interrupt_dropped","cat":"fault","ph":"i","s":"t",)"
                R"("ts":62.000,"pid":3,"tid":10,"args":{"event":)"
                R"("fault interrupt_dropped: host->guest relid 1","sequence":1}})",
            }));
}

// --- ring counters -----------------------------------------------------------------------

// An 8-page GPADL split after page 4: two rings of 3 data pages (12288 bytes).
std::vector<proto::TraceRecord> open_channel_1() {
  return {
      message(1000,
              "CHANNELMSG_GPADL_HEADER child_relid=1 gpadl=0xe1e10 range_buflen=72 rangecount=1 "
              "byte_count=32768 byte_offset=0 pfns=[0x10,0x11,0x12,0x13,0x14,0x15,0x16,0x17]"),
      message(2000,
              "CHANNELMSG_OPENCHANNEL child_relid=1 openid=1 ringbuffer_gpadlhandle=0xe1e10 "
              "target_vp=0 downstream_ringbuffer_pageoffset=4 userdata=0"),
  };
}

TEST(TraceExport, RingCounterIsBytesUsedModuloTheRingSizeTheOpenChannelGave) {
  std::vector<proto::TraceRecord> records = open_channel_1();
  // The write index wrapped past the end of the 12288-byte data area.
  records.push_back(ring(151'338, proto::PARTITION_HOST, "chan/1", 1, "inbound", "publish_write",
                         616, 10696, 2208));
  records.push_back(
      ring(159'338, proto::PARTITION_GUEST, "dpc/1", 1, "inbound", "publish_read", 616, 616, 2208));

  const std::string json = export_json(records);

  EXPECT_EQ(events_containing(json, "\"ph\":\"C\""),
            (std::vector<std::string>{
                R"({"name":"ring 1 inbound","cat":"ring","ph":"C","ts":151.338,"pid":3,)"
                R"("tid":12,"args":{"bytes_used":2208}})",
                R"({"name":"ring 1 inbound","cat":"ring","ph":"C","ts":159.338,"pid":3,)"
                R"("tid":12,"args":{"bytes_used":0}})",
            }));
}

TEST(TraceExport, RingCounterUsesTheRingSizeTheRecordCarries) {
  proto::TraceRecord wrapped =
      ring(1000, proto::PARTITION_HOST, "chan/2", 2, "outbound", "publish_read", 40, 4040, 8);
  wrapped.mutable_ring()->set_data_size(4096);  // no OPENCHANNEL in this trace

  EXPECT_EQ(events_containing(export_json({wrapped}), "\"ph\":\"C\""),
            std::vector<std::string>{
                R"({"name":"ring 2 outbound","cat":"ring","ph":"C","ts":1.000,"pid":3,"tid":11,)"
                R"("args":{"bytes_used":96}})"});
}

TEST(TraceExport, RingCounterWithoutARingSizeIsWriteMinusReadOrNothing) {
  const std::string json = export_json({
      ring(1000, proto::PARTITION_HOST, "chan/2", 2, "outbound", "publish_read", 4096, 1024, 8),
      ring(2000, proto::PARTITION_HOST, "chan/2", 2, "outbound", "publish_read", 616, 10696, 8),
  });

  EXPECT_EQ(events_containing(json, "\"ph\":\"C\""),
            std::vector<std::string>{
                R"({"name":"ring 2 outbound","cat":"ring","ph":"C","ts":1.000,"pid":3,"tid":11,)"
                R"("args":{"bytes_used":3072}})"});
}

// --- flows -------------------------------------------------------------------------------

TEST(TraceExport, KmclPacketFlowRunsFromDequeueThroughDeliveriesToTheSendersCompletion) {
  constexpr std::uint64_t kChannelHandle = 0xffffa00000000010;
  constexpr std::uint64_t kPacketHandle = 0xffffa00000000020;
  const std::string json = export_json({
      kmcl(1000, "kmcl/1/dpc/1", "dequeue", kPacketHandle, "#0 trans_id 5"),
      kmcl(1000, "kmcl/1/dpc/1", "callback", kPacketHandle, "EvtVmbChannelProcessPacket #0"),
      kmcl(1000, "kmcl/1/dpc/1", "signal_peer", kChannelHandle, "outgoing ring went non-empty"),
      kmcl(2000, "kmcl/1/passive", "complete", kPacketHandle, "#0"),
      completion(3000, proto::PARTITION_HOST, 1, 5),
  });

  EXPECT_EQ(events_containing(json, "\"cat\":\"flow\""),
            (std::vector<std::string>{
                R"({"name":"packet","cat":"flow","ph":"s","ts":1.000,"pid":2,"tid":11,"id":1})",
                R"({"name":"packet","cat":"flow","ph":"t","ts":1.000,"pid":2,"tid":11,"id":1})",
                R"({"name":"packet","cat":"flow","ph":"t","ts":2.000,"pid":2,"tid":12,"id":1})",
                R"({"name":"packet","cat":"flow","ph":"f","ts":3.000,"pid":1,"tid":10,"id":1,)"
                R"("bp":"e"})",
            }));
  // Each flow event follows the instant it binds to.
  const std::vector<std::string> events = event_lines(json);
  const auto dequeue = std::find_if(events.begin(), events.end(), [](const std::string& line) {
    return line.find("\"name\":\"kmcl dequeue\"") != std::string::npos;
  });
  ASSERT_NE(dequeue, events.end());
  ASSERT_NE(dequeue + 1, events.end());
  EXPECT_NE((dequeue + 1)->find("\"ph\":\"s\""), std::string::npos) << *(dequeue + 1);
}

TEST(TraceExport, ReusedPacketObjectStartsANewFlowAtEachSend) {
  constexpr std::uint64_t kPacketHandle = 0xffffa00000000030;
  const std::string json = export_json({
      kmcl(1000, "kmcl/1/passive", "send", kPacketHandle, "trans_id 1"),
      completion(2000, proto::PARTITION_GUEST, 1, 1),
      kmcl(3000, "kmcl/1/passive", "send", kPacketHandle, "trans_id 2"),
      kmcl(4000, "kmcl/1/passive", "callback", kPacketHandle,
           "EvtVmbPacketCompletionRoutine trans_id 2 STATUS_SUCCESS"),
  });

  const std::vector<std::string> flows = events_containing(json, "\"cat\":\"flow\"");
  ASSERT_EQ(flows.size(), 4u) << json;
  EXPECT_NE(flows[0].find("\"ph\":\"s\",\"ts\":1.000"), std::string::npos) << flows[0];
  EXPECT_NE(flows[1].find("\"ph\":\"f\",\"ts\":2.000"), std::string::npos) << flows[1];
  EXPECT_NE(flows[1].find("\"id\":1,"), std::string::npos) << flows[1];
  EXPECT_NE(flows[2].find("\"ph\":\"s\",\"ts\":3.000"), std::string::npos) << flows[2];
  EXPECT_NE(flows[3].find("\"ph\":\"f\",\"ts\":4.000"), std::string::npos) << flows[3];
  EXPECT_NE(flows[3].find("\"id\":2,"), std::string::npos) << flows[3];
}

TEST(TraceExport, RingWriteFlowsToTheReadThatConsumesItsLastByte) {
  std::vector<proto::TraceRecord> records = open_channel_1();
  records.push_back(
      ring(10'000, proto::PARTITION_GUEST, "vsc/1", 1, "outbound", "publish_write", 96, 0, 96));
  records.push_back(
      ring(11'000, proto::PARTITION_GUEST, "vsc/1", 1, "outbound", "publish_write", 144, 0, 48));
  records.push_back(
      ring(12'000, proto::PARTITION_HOST, "chan/1", 1, "outbound", "publish_read", 144, 96, 96));
  records.push_back(
      ring(13'000, proto::PARTITION_HOST, "chan/1", 1, "outbound", "publish_read", 144, 144, 48));

  const std::string json = export_json(records);

  EXPECT_EQ(events_containing(json, "\"cat\":\"flow\""),
            (std::vector<std::string>{
                R"({"name":"ring data","cat":"flow","ph":"s","ts":10.000,"pid":2,"tid":11,"id":1})",
                R"({"name":"ring data","cat":"flow","ph":"s","ts":11.000,"pid":2,"tid":11,"id":2})",
                R"({"name":"ring data","cat":"flow","ph":"f","ts":12.000,"pid":1,"tid":10,"id":1,)"
                R"("bp":"e"})",
                R"({"name":"ring data","cat":"flow","ph":"f","ts":13.000,"pid":1,"tid":10,"id":2,)"
                R"("bp":"e"})",
            }));
}

// --- escaping ----------------------------------------------------------------------------

TEST(TraceExport, EscapesQuotesBackslashesControlCharactersAndBadUtf8) {
  const std::string json = export_json({note(0, proto::PARTITION_GUEST, "vsc/1",
                                             "say \"hi\"\\ now\nnext\tcol\x01 caf\xc3\xa9 \xff!")});

  EXPECT_EQ(JsonValidator(json).error(), "") << json;
  EXPECT_EQ(events_containing(json, "\"name\":\"note\""),
            std::vector<std::string>{
                R"({"name":"note","cat":"note","ph":"i","s":"t","ts":0.000,"pid":2,"tid":10,)"
                R"("args":{"event":"say \"hi\"\\ now\nnext\tcol\u0001 caf)"
                "\xc3\xa9"
                R"( \ufffd!","sequence":0}})"});
}

// --- the command -------------------------------------------------------------------------

// One of every kind of record, in the order a run would write them.
std::vector<proto::TraceRecord> every_kind() {
  std::vector<proto::TraceRecord> records = open_channel_1();
  records.push_back(step(3000, 1, "guest:vsc/1"));
  records.push_back(
      ring(3000, proto::PARTITION_GUEST, "vsc/1", 1, "outbound", "publish_write", 96, 0, 96));
  proto::TraceRecord signal = record_at(3000, proto::PARTITION_UNSPECIFIED, "");
  signal.mutable_signal()->set_stage(proto::SignalRecord::STAGE_SIGNALLED);
  signal.mutable_signal()->set_from(proto::PARTITION_GUEST);
  signal.mutable_signal()->set_to(proto::PARTITION_HOST);
  signal.mutable_signal()->set_connection_id(65537);
  records.push_back(signal);
  records.push_back(step(4000, 2, "host:chan/1"));
  records.push_back(
      ring(4000, proto::PARTITION_HOST, "chan/1", 1, "outbound", "publish_read", 96, 96, 96));
  proto::TraceRecord channel = record_at(4000, proto::PARTITION_HOST, "msg");
  channel.mutable_channel()->set_child_relid(1);
  channel.mutable_channel()->set_state("open");
  channel.mutable_channel()->set_detail("gpadl 925200, \"4+4\" pages");
  records.push_back(channel);
  proto::TraceRecord process = record_at(4500, proto::PARTITION_UNSPECIFIED, "");
  process.mutable_process()->set_kind(proto::ProcessEvent::KIND_STARTED);
  process.mutable_process()->set_partition(proto::PARTITION_HOST);
  records.push_back(process);
  records.push_back(kmcl(5000, "kmcl/1/dpc/1", "dequeue", 0x20, "#0 trans_id 1"));
  records.push_back(kmcl(5000, "kmcl/1/dpc/1", "complete", 0x20, "#0"));
  proto::TraceRecord action = record_at(5500, proto::PARTITION_UNSPECIFIED, "");
  action.mutable_action()->set_step(3);
  action.mutable_action()->set_label("burst");
  action.mutable_action()->set_describe("host_send on 'c'");
  records.push_back(action);
  records.push_back(completion(6000, proto::PARTITION_HOST, 1, 1));
  records.push_back(note(6500, proto::PARTITION_GUEST, "control", "tab\there \\ \"quoted\""));
  return records;
}

TEST(TraceExport, WholeOutputIsValidJsonAndTheSameBytesEveryTime) {
  ScratchDir dir;
  write_trace(dir / "run.trace", every_kind());

  const RunResult first =
      run_cli({"trace", "export", "--format=chrome", (dir / "run.trace").string()});
  const RunResult second =
      run_cli({"trace", "export", "--format", "chrome", (dir / "run.trace").string()});
  const RunResult to_file = run_cli({"trace", "export", "--format=chrome", "-o",
                                     (dir / "run.json").string(), (dir / "run.trace").string()});

  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(first.err, "");
  EXPECT_EQ(JsonValidator(first.out).error(), "") << first.out;
  EXPECT_EQ(second.out, first.out);
  ASSERT_EQ(to_file.exit_code, 0) << to_file.err;
  EXPECT_EQ(to_file.out, "");
  const std::vector<std::byte> written = testing::read_file(dir / "run.json");
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(written.data()), written.size()), first.out);
  // Every record is one event: 12 instants, 2 steps; a counter per ring record.
  EXPECT_EQ(events_containing(first.out, "\"ph\":\"i\"").size(), 12u);
  EXPECT_EQ(events_containing(first.out, "\"ph\":\"X\"").size(), 2u);
  EXPECT_EQ(events_containing(first.out, "\"ph\":\"C\"").size(), 2u);
}

TEST(TraceExport, FormatIsRequiredAndOnlyChromeIsKnown) {
  ScratchDir dir;
  write_trace(dir / "run.trace", every_kind());

  const RunResult missing = run_cli({"trace", "export", (dir / "run.trace").string()});
  const RunResult unknown =
      run_cli({"trace", "export", "--format=perfetto", (dir / "run.trace").string()});

  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_EQ(missing.out, "");
  EXPECT_EQ(missing.err,
            "vmbus-sim trace export: --format is required (the only format is 'chrome')\n"
            "Run 'vmbus-sim trace export --help' for usage.\n");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_EQ(unknown.err,
            "vmbus-sim trace export: unknown --format 'perfetto' (the only format is 'chrome')\n"
            "Run 'vmbus-sim trace export --help' for usage.\n");
}

TEST(TraceExport, BadTraceIsAnErrorAndLeavesOutUntouched) {
  ScratchDir dir;
  testing::write_text_file(dir / "not.trace", "hello");
  write_trace(dir / "cut.trace", every_kind());
  std::filesystem::resize_file(dir / "cut.trace",
                               std::filesystem::file_size(dir / "cut.trace") - 3);
  testing::write_text_file(dir / "kept.json", "previous contents");

  const RunResult missing =
      run_cli({"trace", "export", "--format=chrome", "-o", (dir / "new.json").string(),
               (dir / "missing.trace").string()});
  const RunResult not_trace = run_cli({"trace", "export", "--format=chrome", "-o",
                                       (dir / "kept.json").string(), (dir / "not.trace").string()});
  const RunResult cut = run_cli({"trace", "export", "--format=chrome", "-o",
                                 (dir / "kept.json").string(), (dir / "cut.trace").string()});

  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_EQ(missing.err, "vmbus-sim: " + (dir / "missing.trace").string() + ": cannot open\n");
  EXPECT_FALSE(std::filesystem::exists(dir / "new.json"));
  EXPECT_EQ(not_trace.exit_code, 2);
  EXPECT_EQ(not_trace.err, "vmbus-sim: " + (dir / "not.trace").string() +
                               ": not a vmbus-sim trace (no VMBTRACE header)\n");
  EXPECT_EQ(cut.exit_code, 2);
  EXPECT_NE(cut.err.find("the file ends inside a frame"), std::string::npos) << cut.err;
  const std::vector<std::byte> kept = testing::read_file(dir / "kept.json");
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(kept.data()), kept.size()),
            "previous contents");
}

TEST(TraceExport, UnwritableOutIsAnError) {
  ScratchDir dir;
  write_trace(dir / "run.trace", every_kind());

  const RunResult result =
      run_cli({"trace", "export", "--format=chrome", "-o",
               (dir / "no-such-dir" / "run.json").string(), (dir / "run.trace").string()});

  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.err,
            "vmbus-sim: cannot write '" + (dir / "no-such-dir" / "run.json").string() + "'\n");
}

TEST(TraceExport, HelpExplainsTheFlowsAndShowsAnExample) {
  const RunResult help = run_cli({"trace", "export", "--help"});
  const RunResult group = run_cli({"trace", "--help"});

  EXPECT_EQ(help.exit_code, 0);
  EXPECT_EQ(help.out.rfind("Usage: vmbus-sim trace export --format=chrome [-o OUT] FILE\n", 0), 0u)
      << help.out;
  EXPECT_NE(help.out.find("a send or dequeue starts the"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("Examples:\n  vmbus-sim trace export --format=chrome -o run.json "
                          "run.trace\n"),
            std::string::npos)
      << help.out;
  EXPECT_NE(group.out.find("  export  Write a run's trace as Chrome trace-event JSON"),
            std::string::npos)
      << group.out;
}

}  // namespace
}  // namespace vmbus::cli
