#include "vmbus/partition/send_request.h"

#include <algorithm>
#include <span>

namespace vmbus::partition {

wire::Result<std::vector<std::byte>, std::string> payload_bytes(const proto::Payload& payload) {
  const auto bytes_of = [](const std::string& text) {
    const auto view = std::as_bytes(std::span(text));
    return std::vector<std::byte>(view.begin(), view.end());
  };
  switch (payload.data_case()) {
    case proto::Payload::DATA_NOT_SET:
      return std::vector<std::byte>{};
    case proto::Payload::kRaw:
      return bytes_of(payload.raw());
    case proto::Payload::kText:
      return bytes_of(payload.text());
    default:
      return std::string(
          "the payload was not resolved to raw bytes (the runner converts hex and "
          "patterns)");
  }
}

wire::Result<SendRequest, std::string> send_request(const proto::SendAction& action) {
  auto bytes = payload_bytes(action.payload());
  if (!bytes.ok()) {
    return bytes.error();
  }
  SendRequest request;
  request.payload = std::move(bytes).value();
  if (request.payload.empty()) {
    request.payload.resize(16);
    for (std::size_t i = 0; i < request.payload.size(); ++i) {
      request.payload[i] = static_cast<std::byte>(i);
    }
  }
  if (action.count() > kMaxSendCopies) {
    return "count " + std::to_string(action.count()) + " is more than " +
           std::to_string(kMaxSendCopies);
  }
  request.count = std::max<std::uint32_t>(1, action.count());
  if (action.external_pages() > kMaxExternalPages) {
    return "external_pages " + std::to_string(action.external_pages()) + " is more than " +
           std::to_string(kMaxExternalPages);
  }
  request.external_pages = action.external_pages();
  request.request_completion = action.request_completion();
  return request;
}

}  // namespace vmbus::partition
