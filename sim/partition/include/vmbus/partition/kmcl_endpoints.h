// The KMCL-model drivers of one partition, and how its scheduler runs them.
//
// KmclEndpoints owns one KmclEndpoint per driver (kmcl_endpoint.h) and runs
// its device: the device's contexts become the partition's
// "kmcl/<relid>/<device context>" contexts ("dpc/1", "passive", "work/...",
// "thread/op<N>", "thread/sync<N>"), and after every device step or action it
// writes what the driver did to the trace (sync): one KmclRecord of kind
// "driver" per driver callback (scenario mode), context
// "kmcl/<relid>/<device context>", detail
// "<callback>[ #<packet>| send#<n>] <PASSIVE|DISPATCH>[ <action>]"
// (kmcl::to_scenario_text), and a CompletionEvent for every send of the
// driver that ended (its completion routine ran, or its synchronous request
// returned). The guest's KmclChannels and the host's server channels build
// on it; what differs between them is how the wire opens and closes.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "vmbus/kmcl/driver_loader.h"
#include "vmbus/partition/kmcl_endpoint.h"
#include "vmbus/partition/partition.h"

namespace vmbus::partition {

// Guest pages a driver's send names as external data: lent for the send
// (first page, count), given back when it ends.
class ExternalPages {
 public:
  virtual ~ExternalPages() = default;
  // `count` pages, or nullopt when there are none to lend.
  virtual std::optional<std::pair<std::uint64_t, std::uint32_t>> lend(std::uint32_t count) = 0;
  virtual void give_back(const std::pair<std::uint64_t, std::uint32_t>& pages) = 0;
};

class KmclEndpoints {
 public:
  explicit KmclEndpoints(ExternalPages& pages) : pages_(pages) {}
  virtual ~KmclEndpoints() = default;
  KmclEndpoints(const KmclEndpoints&) = delete;
  KmclEndpoints& operator=(const KmclEndpoints&) = delete;

  // A driver for `config` (seeded from `seed` unless it has its own) at
  // `role`'s end of its channel, `configure` making the owner's further Init
  // calls (KmclEndpoint); "" or why it cannot be used. With config.loaded()
  // the library is loaded (once per path; never unloaded before the
  // endpoints are gone) and its entry point runs now.
  std::string add(const proto::KmclDriverConfig& config, std::uint64_t seed, const Work& work,
                  EndpointRole role = EndpointRole::kClient,
                  const std::function<void(kmcl::VMBCHANNEL)>& configure = {});

  // Free-running runs (`free_running`) let each device DPC step handle up to
  // kFreeRunningPacketsPerDpcStep packets: the partition runs its contexts
  // back to back there, and one packet per pass through its loop would make
  // the loop's cost the run's. Deterministic runs keep one packet per step,
  // each a scheduling point. Before add().
  void set_free_running(bool free_running) { free_running_ = free_running; }
  // The partition's quirks (vmbus/base/quirks.h), for every device added
  // after this call.
  void set_quirks(const base::QuirkSet& quirks) { quirks_ = quirks; }
  static constexpr std::uint32_t kFreeRunningPacketsPerDpcStep = 16;

  KmclEndpoint* find(std::uint32_t child_relid);
  const KmclEndpoint* find(std::uint32_t child_relid) const;
  // In configuration order.
  const std::vector<std::unique_ptr<KmclEndpoint>>& endpoints() const { return endpoints_; }

  // A scenario's driver never counts as done: the run ends when the system
  // goes quiet.
  bool scenario_mode() const;
  // Every driver has retired the packets it expects.
  bool drivers_done() const;

  // Every device sees the simulated time of the step or delivery that runs,
  // so a wait's deadline (a synchronous request's timeout) can pass.
  void set_now(std::uint64_t now_ns);
  void add_ready(std::vector<std::string>& ready) const;
  // A driver thread waits for a deadline (only the clock can wake it).
  bool waiting_for_time() const;
  // The earliest such deadline, or 0 for none.
  std::uint64_t wake_at_ns() const;

  // One step of `device_context` of channel `child_relid`'s device, then
  // sync(). True when a rescinded channel's rings became free.
  bool step(std::uint32_t child_relid, const std::string& device_context, const Work& work);
  // After a device step or an action: the driver's records, the sends that
  // ended (their lent pages go back), the device's events. True when a
  // rescinded channel's rings became free.
  bool sync(KmclEndpoint& endpoint, const Work& work);

  // Pages for a send's external data, and back again.
  ExternalPages& external_pages() { return pages_; }

 private:
  std::variant<const kmcl::LoadedDriver*, std::string> load(const std::string& path);

  ExternalPages& pages_;
  bool free_running_ = false;
  base::QuirkSet quirks_;
  // Before endpoints_: a library outlives every device that runs its code.
  std::map<std::string, std::unique_ptr<kmcl::LoadedDriver>> libraries_;
  std::vector<std::unique_ptr<KmclEndpoint>> endpoints_;
};

}  // namespace vmbus::partition
