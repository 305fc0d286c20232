#include "vmbus/guest/report.h"

#include <algorithm>

#include "vmbus/guest/oracles.h"
#include "vmbus/partition/kmcl_report.h"
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

void add_driver_summary(const partition::KmclEndpoint& endpoint, KeyValues& values) {
  const std::string prefix = "kmcl." + std::to_string(endpoint.child_relid()) + ".";
  const kmcl::ChannelStats stats = endpoint.device.channel_stats(endpoint.channel());
  values.emplace_back(prefix + "retired", std::to_string(endpoint.driver().retired_packets()));
  values.emplace_back(prefix + "deliveries", std::to_string(stats.deliveries));
  values.emplace_back(prefix + "defers", std::to_string(stats.defers));
  values.emplace_back(prefix + "completions_sent", std::to_string(stats.completions_sent));
  values.emplace_back(prefix + "failed", std::to_string(stats.packets_failed));
  values.emplace_back(prefix + "redelivery_mismatches",
                      std::to_string(endpoint.driver().redelivery_mismatches()));
  values.emplace_back(prefix + "violations", std::to_string(endpoint.device.violations().size()));
  values.emplace_back(prefix + "fifo", endpoint.driver().processed_in_index_order() ? "yes" : "no");
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
  std::vector<const partition::KmclEndpoint*> endpoints;
  for (const auto& endpoint : drivers.endpoints()) {
    endpoints.push_back(endpoint.get());
  }
  std::sort(endpoints.begin(), endpoints.end(),
            [](const auto* a, const auto* b) { return a->child_relid() < b->child_relid(); });
  for (const partition::KmclEndpoint* endpoint : endpoints) {
    *report.add_kmcl_channels() = partition::kmcl_channel_report(*endpoint);
  }
  for (const partition::KmclEndpoint* endpoint : endpoints) {
    const std::uint32_t relid = endpoint->child_relid();
    const auto attached = rings.find(relid);
    const partition::ChannelRings* channel_rings =
        attached == rings.end() ? nullptr : &attached->second;
    for (auto [name, why] :
         {std::pair<const char*, std::string>{"retired_once", partition::retired_once(*endpoint)},
          {"fifo", partition::fifo(*endpoint)},
          {"lost_wakeup", lost_wakeup(*endpoint, control, channel_rings, quiet)}}) {
      if (!why.empty()) {
        add_finding(report, name, relid, std::move(why));
      }
    }
  }
  if (std::string why = ring_page_leaks(control, drivers); !why.empty()) {
    add_finding(report, "leak", 0, std::move(why));
  }
  if (std::string why = rescind_order(control); !why.empty()) {
    add_finding(report, "rescind_order", 0, std::move(why));
  }
  if (std::string why = resume_hang(control, quiet); !why.empty()) {
    add_finding(report, "resume_hang", 0, std::move(why));
  }
  return report;
}

}  // namespace vmbus::guest
