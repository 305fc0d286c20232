#include "vmbus/partition/kmcl_endpoints.h"

#include <algorithm>

#include "vmbus/base/check.h"
#include "vmbus/partition/context_name.h"
#include "vmbus/partition/driver_watch.h"

namespace vmbus::partition {

std::string KmclEndpoints::add(const proto::KmclDriverConfig& config, std::uint64_t seed,
                               const Work& work, EndpointRole role,
                               const std::function<void(kmcl::VMBCHANNEL)>& configure) {
  if (config.child_relid() == 0 || find(config.child_relid()) != nullptr) {
    return "kmcl driver relid " + std::to_string(config.child_relid()) + " is zero or repeated";
  }
  if (std::string error = validate_kmcl_driver(config); !error.empty()) {
    return error;
  }
  const std::uint32_t packets_per_dpc_step = free_running_ ? kFreeRunningPacketsPerDpcStep : 1;
  if (!config.has_loaded()) {
    endpoints_.push_back(std::make_unique<KmclEndpoint>(config, seed, role, configure,
                                                        packets_per_dpc_step, quirks_));
  } else {
    const auto library = load(config.loaded().library());
    if (const auto* error = std::get_if<std::string>(&library)) {
      return *error;
    }
    auto endpoint = std::make_unique<KmclEndpoint>(
        config, *std::get<const kmcl::LoadedDriver*>(library), role, packets_per_dpc_step, quirks_);
    if (std::string error = endpoint->enter(); !error.empty()) {
      DriverWatch::entry_failed(endpoint->loaded->position(kmcl::kDriverEntryName), error);
      return std::string(role == EndpointRole::kServer ? "host" : "guest") + " driver " +
             endpoint->loaded_driver_name() + " on channel '" + config.loaded().channel_name() +
             "': " + kmcl::kDriverEntryName + " " + error;
    }
    endpoints_.push_back(std::move(endpoint));
  }
  sync(*endpoints_.back(), work);
  return "";
}

std::variant<const kmcl::LoadedDriver*, std::string> KmclEndpoints::load(const std::string& path) {
  if (const auto it = libraries_.find(path); it != libraries_.end()) {
    return it->second.get();
  }
  auto loaded = kmcl::load_driver(path);
  if (const auto* error = std::get_if<kmcl::DriverLoadError>(&loaded)) {
    return error->message;
  }
  auto& library = std::get<std::unique_ptr<kmcl::LoadedDriver>>(loaded);
  const kmcl::LoadedDriver* kept = library.get();
  libraries_.emplace(path, std::move(library));
  return kept;
}

KmclEndpoint* KmclEndpoints::find(std::uint32_t child_relid) {
  for (const auto& endpoint : endpoints_) {
    if (endpoint->child_relid() == child_relid) {
      return endpoint.get();
    }
  }
  return nullptr;
}

const KmclEndpoint* KmclEndpoints::find(std::uint32_t child_relid) const {
  for (const auto& endpoint : endpoints_) {
    if (endpoint->child_relid() == child_relid) {
      return endpoint.get();
    }
  }
  return nullptr;
}

bool KmclEndpoints::scenario_mode() const {
  return std::any_of(endpoints_.begin(), endpoints_.end(),
                     [](const auto& endpoint) { return endpoint->config.scenario(); });
}

bool KmclEndpoints::drivers_done() const {
  return std::all_of(endpoints_.begin(), endpoints_.end(), [](const auto& endpoint) {
    return endpoint->driver().retired_packets() >= endpoint->config.expect_packets();
  });
}

void KmclEndpoints::set_now(std::uint64_t now_ns) {
  for (const auto& endpoint : endpoints_) {
    endpoint->device.set_now_ns(now_ns);
  }
}

void KmclEndpoints::add_ready(std::vector<std::string>& ready) const {
  for (const auto& endpoint : endpoints_) {
    for (const std::string& context : endpoint->device.ready_contexts()) {
      ready.push_back(channel_context(kKmclContextKind, endpoint->child_relid(), context));
    }
  }
}

bool KmclEndpoints::waiting_for_time() const {
  return std::any_of(endpoints_.begin(), endpoints_.end(), [](const auto& endpoint) {
    return endpoint->device.next_deadline_ns().has_value();
  });
}

std::uint64_t KmclEndpoints::wake_at_ns() const {
  std::uint64_t earliest = 0;
  for (const auto& endpoint : endpoints_) {
    if (const std::optional<std::uint64_t> deadline = endpoint->device.next_deadline_ns()) {
      earliest = earliest == 0 ? *deadline : std::min(earliest, *deadline);
    }
  }
  return earliest;
}

bool KmclEndpoints::step(std::uint32_t child_relid, const std::string& device_context,
                         const Work& work) {
  KmclEndpoint* endpoint = find(child_relid);
  VMBUS_CHECK(endpoint != nullptr && !device_context.empty(),
              "no KMCL driver for context '" + work.context + "'");
  {
    const SignalScope scope(*endpoint, work.hv);
    endpoint->device.step(device_context);
  }
  return sync(*endpoint, work);
}

bool KmclEndpoints::sync(KmclEndpoint& endpoint, const Work& work) {
  endpoint.queue_driver_records();
  const std::uint32_t relid = endpoint.child_relid();
  const auto& completions = endpoint.driver().send_completions();
  for (; endpoint.completions_emitted < completions.size(); ++endpoint.completions_emitted) {
    const kmcl::SendCompletion& done = completions[endpoint.completions_emitted];
    proto::TraceRecord record = kmcl_record(relid, done.context);
    auto* event = record.mutable_completion();
    event->set_child_relid(relid);
    event->set_trans_id(done.trans_id);
    event->set_status(kmcl::ntstatus_name(done.status));
    event->set_bytes(static_cast<std::uint32_t>(done.payload.size()));
    endpoint.pending_trace.push_back(std::move(record));
    if (const auto lent = endpoint.external_pages.find(done.send_index);
        lent != endpoint.external_pages.end()) {
      pages_.give_back(lent->second);
      endpoint.external_pages.erase(lent);
    }
  }
  if (endpoint.scripted) {
    // Traced now: memory stays flat (a loaded driver's record is kept whole).
    endpoint.scripted->forget_send_completions();
    endpoint.completions_emitted = 0;
  }
  endpoint.flush_trace(work.hv);
  // A rescinded channel keeps its pages until the device's close let go of
  // them; a disabled one frees them once the peer tore the GPADL down.
  return endpoint.take_rings_free();
}

}  // namespace vmbus::partition
