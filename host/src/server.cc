#include "vmbus/host/server.h"

#include <algorithm>

#include "vmbus/base/check.h"
#include "vmbus/host/actions.h"
#include "vmbus/host/report.h"
#include "vmbus/partition/context_name.h"
#include "vmbus/wire/versions.h"

namespace vmbus::host {

using partition::Hypervisor;

VmbusServer::VmbusServer() = default;
VmbusServer::~VmbusServer() = default;

std::string VmbusServer::start(const partition::StartInfo& info, Hypervisor& hv) {
  proto::HostConfig config;
  if (!config.ParseFromString(info.config)) {
    return "the host configuration does not parse";
  }
  VMBUS_CHECK(info.memory != nullptr, "the host started without guest memory");
  vsps_ = std::make_unique<Vsps>(*info.memory);
  control_ = std::make_unique<ControlPlane>(*vsps_);
  if (std::string error = control_->configure(config, info.memory->page_count()); !error.empty()) {
    return error;
  }
  vsps_->configure(config);
  partition::Work{hv, ""}.note("VMBus server up: protocol up to " +
                               wire::version_text(control_->max_version()) + ", " +
                               std::to_string(config.channels_size()) + " channel(s)");
  return "";
}

std::vector<std::uint32_t> VmbusServer::message_connection_ids() const {
  return control_->message_connection_ids();
}

std::vector<std::string> VmbusServer::ready_contexts() const {
  std::vector<std::string> ready;
  vsps_->add_ready(ready);
  if (slot_.full()) {
    ready.push_back("msg");
  }
  if (control_->has_posts()) {
    ready.push_back("post");
  }
  std::sort(ready.begin(), ready.end());
  return ready;
}

void VmbusServer::step(const std::string& context, Hypervisor& hv) {
  const partition::Work work{hv, context};
  if (context == "msg") {
    control_->handle_message(slot_.take(hv), work);
  } else if (context == "post") {
    control_->post_one(work);
  } else if (const auto name = partition::ContextName::parse(context);
             name && name->kind == kVspContextKind && name->child_relid) {
    if (vsps_->step(*name->child_relid, work)) {
      control_->rescind(*name->child_relid, work);
    }
  } else {
    VMBUS_CHECK(false, "stepped unknown context '" + context + "'");
  }
}

void VmbusServer::deliver_message(std::uint32_t sint, std::span<const std::byte> hv_message,
                                  Hypervisor& hv) {
  slot_.deliver(sint, hv_message, hv);
}

void VmbusServer::deliver_event(std::span<const std::uint32_t> /*child_relids*/,
                                std::span<const std::uint32_t> connection_ids, Hypervisor& hv) {
  const partition::Work work{hv, ""};
  for (std::uint32_t id : connection_ids) {
    const std::optional<std::uint32_t> relid = control_->relid_of_connection_id(id);
    if (!relid || !control_->is_open(*relid)) {
      work.note("ignored a signal on connection id " + std::to_string(id) + ": no open channel");
      continue;
    }
    vsps_->on_guest_signal(*relid, work);
  }
}

std::string VmbusServer::perform(const proto::PartitionAction& action, Hypervisor& hv) {
  return perform_action(action, *control_, *vsps_, partition::Work{hv, "action"});
}

proto::FinalReport VmbusServer::final_report() {
  proto::FinalReport report;
  *report.mutable_host() = host_report(*control_, *vsps_);
  return report;
}

}  // namespace vmbus::host
