#include "vmbus/partition/kmcl_actions.h"

#include <algorithm>
#include <functional>
#include <optional>

#include "vmbus/partition/send_request.h"
#include "vmbus/ring/layout.h"

namespace vmbus::partition {
namespace {

using LentPages = std::pair<std::uint64_t, std::uint32_t>;

// An MDL describing `count` whole guest pages from `first_page`.
kmcl::MDL whole_pages(std::uint64_t first_page, std::uint32_t count) {
  kmcl::MDL mdl;
  mdl.ByteCount = count * ring::kHvPageSizeBytes;
  mdl.ByteOffset = 0;
  for (std::uint32_t i = 0; i < count; ++i) {
    mdl.PfnArray.push_back(first_page + i);
  }
  return mdl;
}

std::string channel_text(std::uint32_t relid) {
  return "channel " + std::to_string(relid);
}

// What only the scripted driver does (its sends, its outstanding packets,
// its policy): "" or why a loaded driver's channel refuses `what`.
std::string scripted_only(const KmclEndpoint& endpoint, const std::string& what) {
  if (endpoint.scripted) {
    return "";
  }
  return channel_text(endpoint.child_relid()) + " runs the loaded driver " +
         endpoint.loaded_driver_name() + ", which decides for itself; " + what +
         " needs the scripted driver";
}

// A driver's send: KMCL chooses the trans_id, and sends external data only
// with WAIT_FOR_COMPLETION.
struct DriverSend {
  SendRequest request;
  kmcl::UINT32 flags = 0;
};

std::string driver_send(const proto::SendAction& send, DriverSend* out) {
  if (send.has_trans_id()) {
    return "KMCL chooses its own trans_id; a driver's send cannot set one";
  }
  auto request = send_request(send);
  if (!request.ok()) {
    return request.error();
  }
  out->request = std::move(request).value();
  out->flags = out->request.request_completion || out->request.external_pages > 0
                   ? kmcl::VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION
                   : 0;
  return "";
}

std::string send_synchronous(KmclEndpoints& endpoints, KmclEndpoint& endpoint,
                             const DriverSend& send, std::uint64_t timeout_us) {
  std::optional<LentPages> lent;
  if (send.request.external_pages > 0) {
    lent = endpoints.external_pages().lend(send.request.external_pages);
    if (!lent) {
      return "out of guest memory for " + std::to_string(send.request.external_pages) +
             " external pages";
    }
  }
  std::optional<kmcl::LONGLONG> timeout;
  if (timeout_us != 0) {
    if (timeout_us > 1'000'000'000'000ull) {
      return "timeout_us " + std::to_string(timeout_us) + " is too large";
    }
    timeout = -static_cast<kmcl::LONGLONG>(timeout_us * 10);  // relative, 100 ns units
  }
  const std::string name = "sync" + std::to_string(endpoint.next_sync++);
  // Driver code that blocks: its own PASSIVE_LEVEL thread. The copies go
  // one after the other; the lent pages go back when the last returned.
  ExternalPages& pages = endpoints.external_pages();
  endpoint.device.spawn_passive_thread(name, [&pages, &endpoint, send, timeout, lent] {
    for (std::uint32_t i = 0; i < send.request.count; ++i) {
      kmcl::MDL mdl;
      if (lent) {
        mdl = whole_pages(lent->first, lent->second);
      }
      endpoint.scripted->send_synchronous(send.request.payload, send.flags, lent ? &mdl : nullptr,
                                          timeout);
    }
    if (lent) {
      pages.give_back(*lent);
    }
  });
  return "";
}

std::string send_in_line(KmclEndpoints& endpoints, KmclEndpoint& endpoint, const DriverSend& send) {
  for (std::uint32_t i = 0; i < send.request.count; ++i) {
    std::optional<LentPages> lent;
    kmcl::MDL mdl;
    if (send.request.external_pages > 0) {
      lent = endpoints.external_pages().lend(send.request.external_pages);
      if (!lent) {
        return "out of guest memory for " + std::to_string(send.request.external_pages) +
               " external pages (after " + std::to_string(i) + " sends)";
      }
      mdl = whole_pages(lent->first, lent->second);
    }
    const std::int64_t index =
        endpoint.scripted->send(send.request.payload, send.flags, lent ? &mdl : nullptr);
    if (index < 0) {
      if (lent) {
        endpoints.external_pages().give_back(*lent);
      }
      return "VmbPacketSend on " + channel_text(endpoint.child_relid()) + " returned " +
             kmcl::ntstatus_name(endpoint.scripted->last_send_status()) + " (after " +
             std::to_string(i) + " sends; payload " + std::to_string(send.request.payload.size()) +
             " bytes)";
    }
    if (lent) {
      endpoint.external_pages[index] = *lent;
    }
  }
  return "";
}

// The driver code a channel_op runs, or an empty function with `*error` set.
std::function<void()> driver_call(KmclEndpoint& endpoint, const proto::ChannelOpAction& op,
                                  const std::string& enable_refused, std::string* error) {
  const kmcl::VMBCHANNEL channel = endpoint.channel();
  const std::uint32_t value = op.value();
  switch (op.op()) {
    case proto::ChannelOpAction::PAUSE:
      return [channel] { kmcl::VmbChannelPause(channel); };
    case proto::ChannelOpAction::START:
      return [channel] { kmcl::VmbChannelStart(channel); };
    case proto::ChannelOpAction::DISABLE:
    case proto::ChannelOpAction::CLOSE:
      return [channel] { kmcl::VmbChannelDisable(channel); };
    case proto::ChannelOpAction::ENABLE:
    case proto::ChannelOpAction::REOPEN:
      if (!enable_refused.empty()) {
        *error = enable_refused;
        return {};
      }
      return [&endpoint, channel] {
        const kmcl::NTSTATUS status = kmcl::VmbChannelEnable(channel);
        if (status != kmcl::STATUS_SUCCESS) {
          endpoint.note(std::string("VmbChannelEnable returned ") + kmcl::ntstatus_name(status));
        }
      };
    case proto::ChannelOpAction::SET_PASSIVE:
      return [channel, value] {
        kmcl::VmbChannelSetIncomingProcessingAtPassive(channel,
                                                       value != 0 ? kmcl::TRUE : kmcl::FALSE);
      };
    case proto::ChannelOpAction::SET_QUOTA:
      return [channel, value] { kmcl::VmbChannelSetTransactionQuota(channel, value); };
    case proto::ChannelOpAction::COMPLETE_OUTSTANDING:
      if (*error = scripted_only(endpoint, "COMPLETE_OUTSTANDING"); !error->empty()) {
        return {};
      }
      return [&endpoint, value] {
        endpoint.scripted->complete_outstanding({}, value == 0 ? SIZE_MAX : std::size_t{value});
      };
    default:
      *error = "unknown channel operation " + std::to_string(op.op());
      return {};
  }
}

}  // namespace

std::string kmcl_send(KmclEndpoints& endpoints, KmclEndpoint& endpoint,
                      const proto::SendAction& send) {
  if (std::string error = scripted_only(endpoint, "a send action"); !error.empty()) {
    return error;
  }
  DriverSend request;
  if (std::string error = driver_send(send, &request); !error.empty()) {
    return error;
  }
  return send.synchronous() ? send_synchronous(endpoints, endpoint, request, send.timeout_us())
                            : send_in_line(endpoints, endpoint, request);
}

std::string kmcl_channel_op(KmclEndpoint& endpoint, const proto::ChannelOpAction& op,
                            const std::string& enable_refused) {
  std::string error;
  std::function<void()> body = driver_call(endpoint, op, enable_refused, &error);
  if (!body) {
    return error;
  }
  // The driver's KMCL calls run on a PASSIVE_LEVEL driver thread: those that
  // block (Pause, Disable) take scheduler steps like real driver code.
  endpoint.device.spawn_passive_thread("op" + std::to_string(endpoint.next_op++), std::move(body));
  return "";
}

std::string kmcl_set_policy(KmclEndpoint& endpoint, const proto::SetPolicyAction& policy) {
  if (std::string error = scripted_only(endpoint, "set_policy"); !error.empty()) {
    return error;
  }
  return apply_driver_policy(policy.rule(), policy.default_action(), endpoint.scripted.get());
}

}  // namespace vmbus::partition
