// The three processes end to end: the simulated hypervisor running the real
// vmbus-host and vmbus-guest binaries.
#include <dirent.h>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <signal.h>
#include <string>
#include <unistd.h>

#include <gtest/gtest.h>

#include "vmbus/trace/reader.h"
#include "vmbus/wire/messages.h"
#include "vmbus/wire/versions.h"

#include "system_test_util.h"

namespace vmbus {
namespace {

using testing::base_config;
using testing::describe;
using testing::echo_host;

proto::GuestConfig echo_guest(std::uint64_t packets, std::uint32_t relid = 1) {
  proto::GuestConfig guest;
  guest.mutable_echo()->set_child_relid(relid);
  guest.mutable_echo()->set_packets(packets);
  guest.mutable_echo()->set_max_payload_bytes(256);
  return guest;
}

std::filesystem::path temp_path(const std::string& name) {
  return std::filesystem::path(::testing::TempDir()) /
         (name + "-" + std::to_string(::getpid()) + ".trace");
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Segments this test process's runs created and did not remove.
std::vector<std::string> leftover_segments() {
  std::vector<std::string> names;
  const std::string prefix = "vmbus-sim-" + std::to_string(::getpid()) + "-";
  if (DIR* dir = ::opendir("/dev/shm")) {
    while (const dirent* entry = ::readdir(dir)) {
      if (std::string(entry->d_name).rfind(prefix, 0) == 0) {
        names.emplace_back(entry->d_name);
      }
    }
    ::closedir(dir);
  }
  return names;
}

bool process_alive(int pid) {
  return pid > 0 && ::kill(pid, 0) == 0;
}

int count_messages(const trace::TraceFile& trace, proto::MessageEvent::Stage stage,
                   wire::MessageType type, proto::Partition to = proto::PARTITION_UNSPECIFIED) {
  int count = 0;
  for (const proto::TraceRecord& record : trace.records) {
    if (record.has_message() && record.message().stage() == stage &&
        record.message().msgtype() == static_cast<std::uint32_t>(type) &&
        (to == proto::PARTITION_UNSPECIFIED || record.message().to() == to)) {
      ++count;
    }
  }
  return count;
}

trace::TraceFile run_and_read_trace(hypervisor::SimulationConfig config, const std::string& name,
                                    hypervisor::RunResult* result) {
  config.trace_path = temp_path(name);
  *result = hypervisor::run_simulation(config);
  trace::TraceReadResult read = trace::read_trace(config.trace_path);
  EXPECT_TRUE(read.ok) << read.error;
  std::filesystem::remove(config.trace_path);
  return read.trace;
}

TEST(Simulation, ChannelComesUpAndEchoesPackets) {
  const hypervisor::RunResult result =
      hypervisor::run_simulation(base_config(echo_host(1), echo_guest(1000)));

  ASSERT_EQ(result.outcome, hypervisor::RunOutcome::kCompleted) << describe(result);
  EXPECT_EQ(result.guest_value("result"), "ok") << describe(result);
  EXPECT_EQ(result.guest_value("version"), "5.3");
  EXPECT_EQ(result.guest_value("packets_echoed"), "1000");
  EXPECT_EQ(result.guest_value("ignored_messages"), "0");
  EXPECT_TRUE(leftover_segments().empty());
}

// --- version negotiation ---------------------------------------------------------

class VersionNegotiation : public ::testing::TestWithParam<std::uint32_t> {};

TEST_P(VersionNegotiation, GuestSettlesOnTheHostsHighestVersion) {
  const std::uint32_t host_max = GetParam();
  hypervisor::RunResult result;
  const trace::TraceFile trace =
      run_and_read_trace(base_config(echo_host(1, host_max), echo_guest(10)),
                         "version-" + std::to_string(host_max), &result);

  ASSERT_EQ(result.outcome, hypervisor::RunOutcome::kCompleted) << describe(result);
  EXPECT_EQ(result.guest_value("version"), wire::version_number_text(host_max));
  EXPECT_EQ(result.guest_value("packets_echoed"), "10");
  // One INITIATE_CONTACT reaches the host per version tried on a connection
  // id it has: 5.3 down to the host's version, except that a host below 5.0
  // has no connection id 4, so the 5.x attempts are refused by the
  // hypervisor before they get there.
  int expected_posted = 0;
  int expected_rejected = 0;
  for (std::uint32_t version : wire::kGuestVersionTryOrder) {
    if (version < host_max) {
      break;
    }
    const bool id_4 = wire::uses_message_connection_id_4(version);
    if (id_4 && host_max < wire::kVersionWin10V5) {
      ++expected_rejected;
    } else {
      ++expected_posted;
    }
  }
  EXPECT_EQ(
      count_messages(trace, proto::MessageEvent::STAGE_POSTED, wire::MessageType::kInitiateContact),
      expected_posted);
  EXPECT_EQ(count_messages(trace, proto::MessageEvent::STAGE_REJECTED,
                           wire::MessageType::kInitiateContact),
            expected_rejected);
}

INSTANTIATE_TEST_SUITE_P(EveryVersion, VersionNegotiation,
                         ::testing::ValuesIn(wire::kGuestVersionTryOrder),
                         [](const auto& test_info) {
                           std::string name = wire::version_number_text(test_info.param);
                           std::replace(name.begin(), name.end(), '.', '_');
                           return "v" + name;
                         });

TEST(VersionNegotiation, GuestCappedBelowTheHostUsesItsOwnCap) {
  proto::GuestConfig guest = echo_guest(10);
  guest.set_max_version(wire::kVersionWin8);  // 2.4 only
  const hypervisor::RunResult result =
      hypervisor::run_simulation(base_config(echo_host(1, wire::kVersionWin10V5_3), guest));

  ASSERT_EQ(result.outcome, hypervisor::RunOutcome::kCompleted) << describe(result);
  EXPECT_EQ(result.guest_value("result"), "ok");
  EXPECT_EQ(result.guest_value("version"), "2.4");
}

TEST(VersionNegotiation, GuestReportsFailureWhenNoVersionIsShared) {
  // A Windows 7 host (1.1) accepts none of the versions a modern guest asks for.
  const hypervisor::RunResult result =
      hypervisor::run_simulation(base_config(echo_host(1, wire::kVersionWin7), echo_guest(10)));

  ASSERT_EQ(result.outcome, hypervisor::RunOutcome::kCompleted) << describe(result);
  EXPECT_EQ(result.guest_value("result"),
            "failed: the host accepted none of the protocol versions");
  EXPECT_EQ(result.guest_value("packets_echoed"), "0");
}

// --- channels ---------------------------------------------------------------------

TEST(Channels, SixtyFourChannelsAreOfferedAndOpened) {
  proto::GuestConfig guest = echo_guest(64, 64);
  hypervisor::RunResult result;
  const trace::TraceFile trace =
      run_and_read_trace(base_config(echo_host(64), guest), "sixty-four", &result);

  ASSERT_EQ(result.outcome, hypervisor::RunOutcome::kCompleted) << describe(result);
  EXPECT_EQ(result.guest_value("channels_offered"), "64");
  EXPECT_EQ(result.guest_value("channels_open"), "64");
  EXPECT_EQ(result.guest_value("packets_echoed"), "64");
  EXPECT_EQ(
      count_messages(trace, proto::MessageEvent::STAGE_DELIVERED, wire::MessageType::kOfferChannel),
      64);
  // 64 offers cannot all sit in the guest's one message slot: the rest wait
  // in the queue, and a delivery says so with msg_pending.
  int queued = 0;
  int pending_flagged = 0;
  for (const proto::TraceRecord& record : trace.records) {
    if (record.has_message() && record.message().to() == proto::PARTITION_GUEST) {
      queued += record.message().stage() == proto::MessageEvent::STAGE_QUEUED ? 1 : 0;
      pending_flagged += record.message().stage() == proto::MessageEvent::STAGE_DELIVERED &&
                                 record.message().msg_pending()
                             ? 1
                             : 0;
    }
  }
  EXPECT_GT(queued, 0);
  EXPECT_GT(pending_flagged, 0);
}

TEST(Channels, LargeGpadlNeedsSeveralBodyMessages) {
  proto::GuestConfig guest = echo_guest(200);
  guest.set_ring_pages(64);  // 128 pages: a header with 26 PFNs and 4 bodies of 28 or fewer
  hypervisor::RunResult result;
  const trace::TraceFile trace =
      run_and_read_trace(base_config(echo_host(1), guest), "gpadl", &result);

  ASSERT_EQ(result.outcome, hypervisor::RunOutcome::kCompleted) << describe(result);
  EXPECT_EQ(result.guest_value("packets_echoed"), "200");
  EXPECT_EQ(
      count_messages(trace, proto::MessageEvent::STAGE_POSTED, wire::MessageType::kGpadlHeader), 1);
  EXPECT_EQ(count_messages(trace, proto::MessageEvent::STAGE_POSTED, wire::MessageType::kGpadlBody),
            4);
  EXPECT_EQ(
      count_messages(trace, proto::MessageEvent::STAGE_POSTED, wire::MessageType::kGpadlCreated),
      1);
}

TEST(Channels, CloseAndReopenThenEcho) {
  proto::GuestConfig guest = echo_guest(500);
  guest.set_reopen_cycles(3);
  hypervisor::RunResult result;
  const trace::TraceFile trace =
      run_and_read_trace(base_config(echo_host(2), guest), "reopen", &result);

  ASSERT_EQ(result.outcome, hypervisor::RunOutcome::kCompleted) << describe(result);
  EXPECT_EQ(result.guest_value("opens"), "8");  // two channels, four opens each
  EXPECT_EQ(result.guest_value("packets_echoed"), "500");
  EXPECT_EQ(
      count_messages(trace, proto::MessageEvent::STAGE_POSTED, wire::MessageType::kCloseChannel),
      6);
  EXPECT_EQ(
      count_messages(trace, proto::MessageEvent::STAGE_POSTED, wire::MessageType::kGpadlTorndown),
      6);
}

TEST(Channels, RescindWhileOpening) {
  proto::HostConfig host = echo_host(2);
  host.mutable_channels(0)->set_rescind_on_open(true);
  proto::GuestConfig guest = echo_guest(100, 2);
  hypervisor::RunResult result;
  const trace::TraceFile trace =
      run_and_read_trace(base_config(host, guest), "rescind-opening", &result);

  ASSERT_EQ(result.outcome, hypervisor::RunOutcome::kCompleted) << describe(result);
  EXPECT_EQ(result.guest_value("rescinds"), "1");
  EXPECT_EQ(result.guest_value("packets_echoed"), "100") << "the other channel still works";
  EXPECT_EQ(
      count_messages(trace, proto::MessageEvent::STAGE_POSTED, wire::MessageType::kRelidReleased),
      1);
}

TEST(Channels, RescindWhileOpen) {
  proto::HostConfig host = echo_host(1);
  host.mutable_channels(0)->set_rescind_after_packets(300);
  proto::GuestConfig guest = echo_guest(100'000);
  guest.set_expect_rescinds(1);
  hypervisor::RunResult result;
  const trace::TraceFile trace =
      run_and_read_trace(base_config(host, guest), "rescind-open", &result);

  ASSERT_EQ(result.outcome, hypervisor::RunOutcome::kCompleted) << describe(result);
  EXPECT_EQ(result.guest_value("result"), "ok") << describe(result);
  EXPECT_EQ(result.guest_value("rescinds"), "1");
  EXPECT_EQ(count_messages(trace, proto::MessageEvent::STAGE_POSTED,
                           wire::MessageType::kRescindChannelOffer),
            1);
  EXPECT_EQ(
      count_messages(trace, proto::MessageEvent::STAGE_POSTED, wire::MessageType::kRelidReleased),
      1);
}

TEST(Channels, ModifyChannelRoundTripsAndUnload) {
  proto::GuestConfig guest = echo_guest(100);
  guest.set_message_pings(50);
  guest.set_unload_at_end(true);
  hypervisor::RunResult result;
  const trace::TraceFile trace =
      run_and_read_trace(base_config(echo_host(1), guest), "pings", &result);

  ASSERT_EQ(result.outcome, hypervisor::RunOutcome::kCompleted) << describe(result);
  EXPECT_EQ(result.guest_value("message_pings"), "50");
  EXPECT_EQ(result.guest_value("packets_echoed"), "100");
  EXPECT_EQ(count_messages(trace, proto::MessageEvent::STAGE_DELIVERED,
                           wire::MessageType::kModifyChannelResponse),
            50);
  EXPECT_EQ(count_messages(trace, proto::MessageEvent::STAGE_DELIVERED,
                           wire::MessageType::kUnloadResponse),
            1);
}

TEST(Channels, HypercallProbesAreAnsweredByTheHypervisorAlone) {
  proto::GuestConfig guest;
  guest.set_hypercall_probes(20);
  hypervisor::RunResult result;
  const trace::TraceFile trace =
      run_and_read_trace(base_config(echo_host(1), guest), "probes", &result);

  ASSERT_EQ(result.outcome, hypervisor::RunOutcome::kCompleted) << describe(result);
  EXPECT_EQ(result.guest_value("hypercall_probes"), "20");
  // Each probe is refused by the hypervisor and never reaches the host.
  EXPECT_EQ(
      count_messages(trace, proto::MessageEvent::STAGE_REJECTED, wire::MessageType::kRequestOffers),
      20);
  EXPECT_EQ(
      count_messages(trace, proto::MessageEvent::STAGE_POSTED, wire::MessageType::kRequestOffers),
      1);
}

TEST(Channels, ModifyChannelPingsNeedProtocol53) {
  proto::GuestConfig guest = echo_guest(0);
  guest.set_message_pings(5);
  const hypervisor::RunResult result =
      hypervisor::run_simulation(base_config(echo_host(1, wire::kVersionWin10V5_2), guest));

  ASSERT_EQ(result.outcome, hypervisor::RunOutcome::kCompleted) << describe(result);
  EXPECT_EQ(result.guest_value("result"),
            "failed: message pings need an open channel and protocol 5.3");
}

// --- traffic ------------------------------------------------------------------------

TEST(Traffic, HundredThousandPacketsEchoedDeterministically) {
  proto::GuestConfig guest = echo_guest(100'000);
  guest.mutable_echo()->set_window(64);
  const hypervisor::RunResult result = hypervisor::run_simulation(base_config(echo_host(1), guest));

  ASSERT_EQ(result.outcome, hypervisor::RunOutcome::kCompleted) << describe(result);
  EXPECT_EQ(result.guest_value("result"), "ok") << describe(result);
  EXPECT_EQ(result.guest_value("packets_echoed"), "100000");
}

TEST(Traffic, HundredThousandPacketsEchoedFreeRunning) {
  proto::GuestConfig guest = echo_guest(100'000);
  guest.mutable_echo()->set_window(64);
  hypervisor::SimulationConfig config = base_config(echo_host(1), guest);
  config.mode = proto::SCHEDULING_MODE_FREE_RUNNING;
  const hypervisor::RunResult result = hypervisor::run_simulation(config);

  ASSERT_EQ(result.outcome, hypervisor::RunOutcome::kCompleted) << describe(result);
  EXPECT_EQ(result.guest_value("result"), "ok") << describe(result);
  EXPECT_EQ(result.guest_value("packets_echoed"), "100000");
}

TEST(Traffic, CompletionsCarryTheSendersTransactionId) {
  proto::GuestConfig guest = echo_guest(2000);
  guest.mutable_echo()->set_request_completions(true);
  const hypervisor::RunResult result = hypervisor::run_simulation(base_config(echo_host(1), guest));

  ASSERT_EQ(result.outcome, hypervisor::RunOutcome::kCompleted) << describe(result);
  EXPECT_EQ(result.guest_value("result"), "ok") << describe(result);
  EXPECT_EQ(result.guest_value("packets_echoed"), "2000");
}

TEST(Traffic, SmallRingFillsAndTheBlockedWriterIsWoken) {
  proto::GuestConfig guest = echo_guest(5000);
  guest.set_ring_pages(2);  // 4 KiB of data per ring
  guest.mutable_echo()->set_window(200);
  guest.mutable_echo()->set_max_payload_bytes(512);
  hypervisor::RunResult result;
  const trace::TraceFile trace =
      run_and_read_trace(base_config(echo_host(1), guest), "small-ring", &result);

  ASSERT_EQ(result.outcome, hypervisor::RunOutcome::kCompleted) << describe(result);
  EXPECT_EQ(result.guest_value("packets_echoed"), "5000");
  EXPECT_NE(result.guest_value("outbound_full_events"), "0") << describe(result);
  int blocked = 0;
  int coalesced = 0;
  for (const proto::TraceRecord& record : trace.records) {
    blocked += record.has_ring() && record.ring().op() == "pending_send_sz" ? 1 : 0;
    coalesced +=
        record.has_signal() && record.signal().stage() == proto::SignalRecord::STAGE_COALESCED ? 1
                                                                                               : 0;
  }
  EXPECT_GT(blocked, 0) << "no writer ever blocked with pending_send_sz";
  EXPECT_GT(coalesced, 0) << "no two signals ever coalesced into one interrupt";
}

// --- the KMCL model in the guest process ------------------------------------------------

proto::HostConfig sending_host(std::uint64_t packets) {
  proto::HostConfig host = echo_host(1);
  auto* vsp = host.mutable_channels(0)->mutable_vsp();
  vsp->set_send_packets(packets);
  vsp->set_request_completions(true);
  vsp->set_payload_bytes(64);
  return host;
}

proto::GuestConfig kmcl_guest(std::uint64_t packets) {
  proto::GuestConfig guest;
  auto* driver = guest.add_kmcl_drivers();
  driver->set_child_relid(1);
  driver->set_expect_packets(packets);
  return guest;
}

TEST(KmclGuest, ScriptedDriverCompletesEveryPacketOfARealChannel) {
  const hypervisor::RunResult result =
      hypervisor::run_simulation(base_config(sending_host(300), kmcl_guest(300)));

  ASSERT_EQ(result.outcome, hypervisor::RunOutcome::kCompleted) << describe(result);
  EXPECT_EQ(result.guest_value("result"), "ok") << describe(result);
  EXPECT_EQ(result.guest_value("kmcl.1.retired"), "300");
  EXPECT_EQ(result.guest_value("kmcl.1.deliveries"), "300");
  EXPECT_EQ(result.guest_value("kmcl.1.completions_sent"), "300");
  EXPECT_EQ(result.guest_value("kmcl.1.violations"), "0");
  EXPECT_EQ(result.guest_value("kmcl.1.fifo"), "yes");
}

TEST(KmclGuest, TheHostReadsEveryCompletionBeforeTheRunEnds) {
  // The guest reports done once it has retired every packet; its last
  // completions are then still in the ring. The run drains before it ends,
  // so the host's report shows all of them, each exactly once.
  proto::GuestConfig guest = kmcl_guest(300);
  auto* later = guest.mutable_kmcl_drivers(0)->add_rules();
  later->set_every(2);
  later->mutable_action()->set_kind(proto::DriverAction::KIND_COMPLETE_LATER);
  later->mutable_action()->set_later_steps(2);
  const hypervisor::RunResult result =
      hypervisor::run_simulation(base_config(sending_host(300), guest));

  ASSERT_EQ(result.outcome, hypervisor::RunOutcome::kCompleted) << describe(result);
  EXPECT_EQ(result.guest_value("kmcl.1.completions_sent"), "300");
  EXPECT_EQ(result.host_value("completions.1"), "300") << describe(result);
}

TEST(KmclGuest, DeferredPacketsAreRedeliveredAtPassiveInOrder) {
  proto::GuestConfig guest = kmcl_guest(300);
  auto* rule = guest.mutable_kmcl_drivers(0)->add_rules();
  rule->set_every(3);  // packets 0, 3, 6, ... are deferred on first delivery
  rule->mutable_action()->set_kind(proto::DriverAction::KIND_DEFER);
  const hypervisor::RunResult result =
      hypervisor::run_simulation(base_config(sending_host(300), guest));

  ASSERT_EQ(result.outcome, hypervisor::RunOutcome::kCompleted) << describe(result);
  EXPECT_EQ(result.guest_value("kmcl.1.retired"), "300");
  EXPECT_EQ(result.guest_value("kmcl.1.defers"), "100");
  EXPECT_EQ(result.guest_value("kmcl.1.deliveries"), "400");  // 300 + 100 redeliveries
  EXPECT_EQ(result.guest_value("kmcl.1.redelivery_mismatches"), "0");
  EXPECT_EQ(result.guest_value("kmcl.1.fifo"), "yes");
  EXPECT_EQ(result.guest_value("kmcl.1.violations"), "0");
}

TEST(KmclGuest, CompletionsLaterAndAQuotaStillRetireEverything) {
  proto::GuestConfig guest = kmcl_guest(200);
  guest.mutable_kmcl_drivers(0)->set_quota(4);
  guest.mutable_kmcl_drivers(0)->mutable_default_action()->set_kind(
      proto::DriverAction::KIND_COMPLETE_LATER);
  guest.mutable_kmcl_drivers(0)->mutable_default_action()->set_later_steps(3);
  const hypervisor::RunResult result =
      hypervisor::run_simulation(base_config(sending_host(200), guest));

  ASSERT_EQ(result.outcome, hypervisor::RunOutcome::kCompleted) << describe(result);
  EXPECT_EQ(result.guest_value("kmcl.1.retired"), "200");
  EXPECT_EQ(result.guest_value("kmcl.1.completions_sent"), "200");
  EXPECT_EQ(result.guest_value("kmcl.1.violations"), "0");
}

TEST(KmclGuest, FailStopsTheQueueAndLaterPacketsStayInTheRing) {
  proto::GuestConfig guest = kmcl_guest(6);
  auto* rule = guest.mutable_kmcl_drivers(0)->add_rules();
  rule->set_match_index(true);
  rule->set_packet_index(5);
  rule->mutable_action()->set_kind(proto::DriverAction::KIND_FAIL);
  const hypervisor::RunResult result =
      hypervisor::run_simulation(base_config(sending_host(50), guest));

  ASSERT_EQ(result.outcome, hypervisor::RunOutcome::kCompleted) << describe(result);
  EXPECT_EQ(result.guest_value("kmcl.1.retired"), "6");
  EXPECT_EQ(result.guest_value("kmcl.1.failed"), "1");
  // Packets 0..4 were completed; the failed one gets no completion.
  EXPECT_EQ(result.guest_value("kmcl.1.completions_sent"), "5");
  EXPECT_EQ(result.guest_value("kmcl.1.deliveries"), "6") << "nothing delivered after Fail";
  EXPECT_EQ(result.guest_value("kmcl.1.violations"), "0");
}

TEST(KmclGuest, VerifierViolationIsReportedAndTraced) {
  proto::GuestConfig guest = kmcl_guest(10);
  auto* rule = guest.mutable_kmcl_drivers(0)->add_rules();
  rule->set_match_index(true);
  rule->set_packet_index(4);
  rule->mutable_action()->set_kind(proto::DriverAction::KIND_COMPLETE_TWICE);
  hypervisor::RunResult result;
  const trace::TraceFile trace =
      run_and_read_trace(base_config(sending_host(10), guest), "kmcl-violation", &result);

  ASSERT_EQ(result.outcome, hypervisor::RunOutcome::kCompleted) << describe(result);
  EXPECT_EQ(result.guest_value("kmcl.1.violations"), "1");
  std::vector<std::string> violations;
  for (const proto::TraceRecord& record : trace.records) {
    if (record.has_kmcl() && record.kmcl().kind() == "violation") {
      violations.push_back(record.kmcl().code() + " " + record.kmcl().api() + " " +
                           record.context() + " irql " + std::to_string(record.kmcl().irql()));
    }
  }
  EXPECT_EQ(violations, std::vector<std::string>{
                            "complete_twice VmbChannelPacketComplete kmcl/1/dpc/1 irql 2"});
}

TEST(KmclGuest, SameSeedGivesByteIdenticalTraces) {
  proto::GuestConfig guest = kmcl_guest(200);
  auto* rule = guest.mutable_kmcl_drivers(0)->add_rules();
  rule->set_every(4);
  rule->mutable_action()->set_kind(proto::DriverAction::KIND_DEFER);
  hypervisor::SimulationConfig config = base_config(sending_host(200), guest, /*seed=*/9);
  config.trace_path = temp_path("kmcl-same-a");
  ASSERT_EQ(hypervisor::run_simulation(config).outcome, hypervisor::RunOutcome::kCompleted);
  const std::string first = read_file(config.trace_path);
  config.trace_path = temp_path("kmcl-same-b");
  ASSERT_EQ(hypervisor::run_simulation(config).outcome, hypervisor::RunOutcome::kCompleted);
  const std::string second = read_file(config.trace_path);

  EXPECT_GT(first.size(), 10'000u);
  EXPECT_TRUE(first == second) << "traces differ (" << first.size() << " vs " << second.size()
                               << " bytes)";
  std::filesystem::remove(temp_path("kmcl-same-a"));
  std::filesystem::remove(temp_path("kmcl-same-b"));
}

// --- determinism ----------------------------------------------------------------------

TEST(Determinism, SameSeedGivesByteIdenticalTraces) {
  hypervisor::SimulationConfig config = base_config(echo_host(2), echo_guest(3000), /*seed=*/42);
  config.trace_path = temp_path("same-a");
  ASSERT_EQ(hypervisor::run_simulation(config).outcome, hypervisor::RunOutcome::kCompleted);
  const std::string first = read_file(config.trace_path);
  config.trace_path = temp_path("same-b");
  ASSERT_EQ(hypervisor::run_simulation(config).outcome, hypervisor::RunOutcome::kCompleted);
  const std::string second = read_file(config.trace_path);

  EXPECT_GT(first.size(), 10'000u);
  EXPECT_TRUE(first == second) << "traces differ (" << first.size() << " vs " << second.size()
                               << " bytes)";
  std::filesystem::remove(temp_path("same-a"));
  std::filesystem::remove(temp_path("same-b"));
}

TEST(Determinism, DifferentSeedGivesADifferentInterleaving) {
  auto decisions = [](std::uint64_t seed) {
    hypervisor::RunResult result;
    const trace::TraceFile trace = run_and_read_trace(
        base_config(echo_host(2), echo_guest(3000), seed), "seed-" + std::to_string(seed), &result);
    EXPECT_EQ(result.outcome, hypervisor::RunOutcome::kCompleted) << describe(result);
    std::vector<std::string> chosen;
    for (const proto::TraceRecord& record : trace.records) {
      if (record.has_scheduler()) {
        chosen.push_back(record.scheduler().ready(static_cast<int>(record.scheduler().chosen())));
      }
    }
    return chosen;
  };
  const auto a = decisions(1);
  const auto b = decisions(2);
  ASSERT_GT(a.size(), 100u);
  EXPECT_NE(a, b);
}

// --- failures -------------------------------------------------------------------------

class PartitionKilled : public ::testing::TestWithParam<bool> {};

TEST_P(PartitionKilled, SimulatorReportsItAndLeavesNothingBehind) {
  const bool kill_host = GetParam();
  hypervisor::SimulationConfig config = base_config(echo_host(1), echo_guest(1'000'000));
  int host_pid = 0;
  int guest_pid = 0;
  config.before_step = [&](std::uint64_t step, int host, int guest) {
    host_pid = host;
    guest_pid = guest;
    if (step == 2000) {
      ::kill(kill_host ? host : guest, SIGKILL);
    }
  };

  const hypervisor::RunResult result = hypervisor::run_simulation(config);

  EXPECT_EQ(result.outcome, hypervisor::RunOutcome::kPartitionCrashed) << describe(result);
  EXPECT_EQ(result.exit_code(), hypervisor::kExitSimulatorFailure);
  const std::string victim = kill_host ? "vmbus-host" : "vmbus-guest";
  EXPECT_NE(result.detail.find(victim + " killed by signal 9 (SIGKILL)"), std::string::npos)
      << result.detail;
  EXPECT_NE(result.detail.find("step"), std::string::npos) << result.detail;
  EXPECT_FALSE(process_alive(host_pid));
  EXPECT_FALSE(process_alive(guest_pid));
  EXPECT_TRUE(leftover_segments().empty());
}

INSTANTIATE_TEST_SUITE_P(Either, PartitionKilled, ::testing::Bool(), [](const auto& test_info) {
  return std::string(test_info.param ? "Host" : "Guest");
});

TEST(Failures, MissingBinaryIsASetupFailure) {
  hypervisor::SimulationConfig config = base_config(echo_host(1), echo_guest(1));
  config.guest_binary = "/nonexistent/vmbus-guest";

  const hypervisor::RunResult result = hypervisor::run_simulation(config);

  EXPECT_EQ(result.outcome, hypervisor::RunOutcome::kSetupFailed);
  EXPECT_NE(result.detail.find("/nonexistent/vmbus-guest"), std::string::npos) << result.detail;
  EXPECT_TRUE(leftover_segments().empty());
}

TEST(Failures, BadPartitionConfigIsReportedByThePartition) {
  proto::HostConfig host = echo_host(1);
  host.mutable_channels(0)->set_child_relid(5000);  // above 2047
  const hypervisor::RunResult result = hypervisor::run_simulation(base_config(host, echo_guest(1)));

  EXPECT_EQ(result.outcome, hypervisor::RunOutcome::kPartitionFailed);
  EXPECT_NE(result.detail.find("relid 5000"), std::string::npos) << result.detail;
}

}  // namespace
}  // namespace vmbus
