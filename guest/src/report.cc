#include "vmbus/guest/report.h"

#include <algorithm>

#include "vmbus/guest/oracles.h"
#include "vmbus/wire/versions.h"

namespace vmbus::guest {
namespace {

void add_finding(proto::GuestReport& report, const std::string& name, std::uint32_t child_relid,
                 std::string what) {
  proto::OracleFinding* finding = report.add_findings();
  finding->set_name(name);
  finding->set_child_relid(child_relid);
  finding->set_what(std::move(what));
}

proto::KmclChannelReport kmcl_channel_report(const KmclEndpoint& endpoint) {
  const kmcl::VMBCHANNEL channel = endpoint.driver.channel();
  const kmcl::ChannelStats stats = endpoint.device.channel_stats(channel);
  proto::KmclChannelReport out;
  out.set_child_relid(endpoint.child_relid());
  out.set_channel_state(kmcl::channel_state_name(endpoint.device.channel_state(channel)));
  out.set_queue_state(kmcl::queue_state_name(endpoint.device.queue_state(channel)));
  out.set_stop_reason(stats.stop_reason);
  out.set_dequeued(stats.packets_dequeued);
  out.set_delivered(stats.deliveries);
  out.set_deferred(stats.defers);
  out.set_failed(stats.packets_failed);
  out.set_completed(stats.packets_completed);
  out.set_completions_sent(stats.completions_sent);
  out.set_packets_sent(stats.packets_sent);
  out.set_dropped(stats.dropped_at_close + stats.discarded_at_close);
  out.set_protocol_errors(stats.protocol_errors);
  out.set_unexpected_completions(stats.unexpected_completions);
  out.set_live_packets(stats.live_packets);
  out.set_outstanding(endpoint.driver.outstanding_count());
  out.set_redelivery_mismatches(endpoint.driver.redelivery_mismatches());
  out.set_sends_in_flight(stats.sends_in_flight);
  out.set_queued_sends(stats.queued_sends);
  out.set_completions_received(stats.completions_received);
  std::uint64_t retired = 0;
  for (const auto& [index, times] : endpoint.driver.retirements()) {
    retired += times != 0 ? 1 : 0;
  }
  out.set_retired(retired);
  out.set_violations(endpoint.device.violations().size());
  out.set_sends_completed(endpoint.driver.send_completions().size());
  const kmcl::ScriptedDriver::RingCounters rings = endpoint.driver.ring_counters();
  out.mutable_incoming()->set_packets(rings.incoming.packets);
  out.mutable_incoming()->set_signals(rings.incoming.signals);
  out.mutable_incoming()->set_end_read_races(rings.incoming.end_read_races);
  out.mutable_outgoing()->set_packets(rings.outgoing.packets);
  out.mutable_outgoing()->set_signals(rings.outgoing.signals);
  out.mutable_outgoing()->set_signals_masked(rings.outgoing.signals_masked);
  out.mutable_outgoing()->set_full_events(rings.outgoing.full_events);
  out.mutable_outgoing()->set_pending_send_sz_sets(rings.outgoing.pending_send_sz_sets);
  return out;
}

void add_driver_summary(const KmclEndpoint& endpoint, KeyValues& values) {
  const std::string prefix = "kmcl." + std::to_string(endpoint.child_relid()) + ".";
  const kmcl::ChannelStats stats = endpoint.device.channel_stats(endpoint.driver.channel());
  values.emplace_back(prefix + "retired", std::to_string(endpoint.driver.retirements().size()));
  values.emplace_back(prefix + "deliveries", std::to_string(stats.deliveries));
  values.emplace_back(prefix + "defers", std::to_string(stats.defers));
  values.emplace_back(prefix + "completions_sent", std::to_string(stats.completions_sent));
  values.emplace_back(prefix + "failed", std::to_string(stats.packets_failed));
  values.emplace_back(prefix + "redelivery_mismatches",
                      std::to_string(endpoint.driver.redelivery_mismatches()));
  values.emplace_back(prefix + "violations", std::to_string(endpoint.device.violations().size()));
  bool in_order = true;
  const auto& order = endpoint.driver.processed_order();
  for (std::size_t i = 0; i < order.size(); ++i) {
    in_order = in_order && order[i] == i;
  }
  values.emplace_back(prefix + "fifo", in_order ? "yes" : "no");
}

}  // namespace

KeyValues run_summary(const ControlPlane& control, const EchoVsc& echo,
                      const KmclChannels& drivers) {
  std::uint64_t opened = 0;
  std::uint64_t opens = 0;
  for (const auto& [relid, channel] : control.channels()) {
    opened += channel.state == ControlPlane::ChannelState::kOpen ? 1 : 0;
    opens += channel.opens;
  }
  KeyValues values = {
      {"result", "ok"},
      {"version", wire::version_number_text(control.version())},
      {"channels_offered", std::to_string(control.channels().size())},
      {"channels_open", std::to_string(opened)},
      {"opens", std::to_string(opens)},
      {"packets_echoed", std::to_string(echo.packets_received())},
      {"echo_bytes", std::to_string(echo.bytes_received())},
      {"message_pings", std::to_string(control.pings_done())},
      {"hypercall_probes", std::to_string(control.probes_done())},
      {"rescinds", std::to_string(control.rescinds())},
      {"ignored_messages", std::to_string(control.ignored_messages())},
  };
  if (const partition::RingSender* sender = echo.sender(echo.echo_relid())) {
    const ring::WriterCounters& w = sender->writer().counters();
    const ring::ReaderCounters& r = echo.receiver(echo.echo_relid())->reader().counters();
    values.emplace_back("outbound_signals", std::to_string(w.signals));
    values.emplace_back("outbound_full_events", std::to_string(w.full_events));
    values.emplace_back("inbound_signals", std::to_string(r.signals));
  }
  for (const auto& endpoint : drivers.endpoints()) {
    add_driver_summary(*endpoint, values);
  }
  return values;
}

KeyValues failure_summary(const std::string& why, const ControlPlane& control,
                          const EchoVsc& echo) {
  return {{"result", "failed: " + why},
          {"version", wire::version_number_text(control.version())},
          {"packets_echoed", std::to_string(echo.packets_received())},
          {"rescinds", std::to_string(control.rescinds())},
          {"ignored_messages", std::to_string(control.ignored_messages())}};
}

proto::GuestReport guest_report(const ControlPlane& control, const KmclChannels& drivers,
                                const std::map<std::uint32_t, partition::ChannelRings>& rings,
                                bool quiet) {
  proto::GuestReport report;
  report.set_negotiated_version(
      control.version() == 0 ? "" : wire::version_number_text(control.version()));
  report.set_ignored_messages(control.ignored_messages());
  report.set_rescinds(control.rescinds());
  std::vector<const KmclEndpoint*> endpoints;
  for (const auto& endpoint : drivers.endpoints()) {
    endpoints.push_back(endpoint.get());
  }
  std::sort(endpoints.begin(), endpoints.end(),
            [](const auto* a, const auto* b) { return a->child_relid() < b->child_relid(); });
  for (const KmclEndpoint* endpoint : endpoints) {
    *report.add_kmcl_channels() = kmcl_channel_report(*endpoint);
  }
  for (const KmclEndpoint* endpoint : endpoints) {
    const std::uint32_t relid = endpoint->child_relid();
    const auto attached = rings.find(relid);
    const partition::ChannelRings* channel_rings =
        attached == rings.end() ? nullptr : &attached->second;
    for (auto [name, why] :
         {std::pair<const char*, std::string>{"retired_once", retired_once(*endpoint)},
          {"fifo", fifo(*endpoint)},
          {"lost_wakeup", lost_wakeup(*endpoint, control, channel_rings, quiet)}}) {
      if (!why.empty()) {
        add_finding(report, name, relid, std::move(why));
      }
    }
  }
  if (std::string why = ring_page_leaks(control, drivers); !why.empty()) {
    add_finding(report, "leak", 0, std::move(why));
  }
  return report;
}

}  // namespace vmbus::guest
