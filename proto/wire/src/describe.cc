// describe(): the one-line text form of a message. Traces are compared byte
// for byte, so any change to this output is a trace format change.
#include <cstdio>
#include <span>
#include <string>
#include <type_traits>

#include "vmbus/wire/codec.h"
#include "vmbus/wire/versions.h"

namespace vmbus::wire {
namespace {

std::string hex_text(std::uint64_t value) {
  char text[2 + 16 + 1];
  std::snprintf(text, sizeof(text), "0x%llx", static_cast<unsigned long long>(value));
  return text;
}

// Hex pairs up to the last non-zero byte; "0" when every byte is zero.
std::string trimmed_hex_bytes(std::span<const std::uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::size_t length = bytes.size();
  while (length > 0 && bytes[length - 1] == 0) {
    --length;
  }
  if (length == 0) {
    return "0";
  }
  std::string text;
  text.reserve(2 * length);
  for (std::size_t i = 0; i < length; ++i) {
    text += kDigits[bytes[i] >> 4];
    text += kDigits[bytes[i] & 0xF];
  }
  return text;
}

std::uint64_t u64_of(const std::uint32_t (&halves)[2]) {
  return std::uint64_t{halves[0]} | (std::uint64_t{halves[1]} << 32);
}

// Appends " name=value" fields to one line.
class Line {
 public:
  explicit Line(MessageType type, const MessageHeader& header) : text_(message_info(type).name) {
    reserved("header.padding", header.padding);
  }

  void dec(const char* name, std::uint64_t value) { field(name, std::to_string(value)); }
  void hex(const char* name, std::uint64_t value) { field(name, hex_text(value)); }
  void flag(const char* name, bool value) { field(name, value ? "1" : "0"); }
  void guid(const char* name, const Guid& value) { field(name, value.to_string()); }
  void version(const char* name, std::uint32_t value) { field(name, version_text(value)); }
  void bytes(const char* name, std::span<const std::uint8_t> value) {
    field(name, trimmed_hex_bytes(value));
  }
  void pfns(const std::vector<std::uint64_t>& values) {
    std::string list = "[";
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (i != 0) {
        list += ',';
      }
      list += hex_text(values[i]);
    }
    list += ']';
    field("pfns", list);
  }
  // Reserved and padding fields appear only when non-zero.
  void reserved(const char* name, std::uint64_t value) {
    if (value != 0) {
      hex(name, value);
    }
  }

  std::string take() && { return std::move(text_); }

 private:
  void field(const char* name, const std::string& value) {
    text_ += ' ';
    text_ += name;
    text_ += '=';
    text_ += value;
  }

  std::string text_;
};

void describe_fields(Line& line, const OfferChannel& m) {
  line.guid("if_type", m.if_type);
  line.guid("if_instance", m.if_instance);
  line.reserved("reserved1", u64_of(m.reserved1));
  line.reserved("reserved2", u64_of(m.reserved2));
  line.hex("chn_flags", m.chn_flags);
  line.dec("mmio_megabytes", m.mmio_megabytes);
  line.bytes("user_def", m.user_def);
  line.dec("sub_channel_index", m.sub_channel_index);
  line.reserved("reserved3", m.reserved3);
  line.dec("child_relid", m.child_relid);
  line.dec("monitorid", m.monitorid);
  line.flag("monitor_allocated", m.monitor_allocated());
  line.reserved("monitor_flags.reserved",
                std::uint32_t{m.monitor_flags} & ~std::uint32_t{kOfferMonitorAllocated});
  line.flag("is_dedicated_interrupt", m.is_dedicated_interrupt());
  line.reserved("interrupt_flags.reserved",
                std::uint32_t{m.interrupt_flags} & ~std::uint32_t{kOfferDedicatedInterrupt});
  line.dec("connection_id", m.connection_id);
}

void describe_fields(Line& line, const RescindChannelOffer& m) {
  line.dec("child_relid", m.child_relid);
}

void describe_fields(Line&, const RequestOffers&) {}
void describe_fields(Line&, const AllOffersDelivered&) {}
void describe_fields(Line&, const Unload&) {}
void describe_fields(Line&, const UnloadResponse&) {}

void describe_fields(Line& line, const OpenChannel& m) {
  line.dec("child_relid", m.child_relid);
  line.dec("openid", m.openid);
  line.hex("ringbuffer_gpadlhandle", m.ringbuffer_gpadlhandle);
  line.dec("target_vp", m.target_vp);
  line.dec("downstream_ringbuffer_pageoffset", m.downstream_ringbuffer_pageoffset);
  line.bytes("userdata", m.userdata);
}

void describe_fields(Line& line, const OpenChannelResult& m) {
  line.dec("child_relid", m.child_relid);
  line.dec("openid", m.openid);
  line.hex("status", m.status);
}

void describe_fields(Line& line, const CloseChannel& m) {
  line.dec("child_relid", m.child_relid);
}

void describe_fields(Line& line, const GpadlHeaderMessage& m) {
  line.dec("child_relid", m.fixed.child_relid);
  line.hex("gpadl", m.fixed.gpadl);
  line.dec("range_buflen", m.fixed.range_buflen);
  line.dec("rangecount", m.fixed.rangecount);
  line.dec("byte_count", m.fixed.byte_count);
  line.dec("byte_offset", m.fixed.byte_offset);
  line.pfns(m.pfns);
}

void describe_fields(Line& line, const GpadlBodyMessage& m) {
  line.dec("msgnumber", m.fixed.msgnumber);
  line.hex("gpadl", m.fixed.gpadl);
  line.pfns(m.pfns);
}

void describe_fields(Line& line, const GpadlCreated& m) {
  line.dec("child_relid", m.child_relid);
  line.hex("gpadl", m.gpadl);
  line.hex("creation_status", m.creation_status);
}

void describe_fields(Line& line, const GpadlTeardown& m) {
  line.dec("child_relid", m.child_relid);
  line.hex("gpadl", m.gpadl);
}

void describe_fields(Line& line, const GpadlTorndown& m) {
  line.hex("gpadl", m.gpadl);
}

void describe_fields(Line& line, const RelidReleased& m) {
  line.dec("child_relid", m.child_relid);
}

void describe_fields(Line& line, const InitiateContact& m) {
  line.version("vmbus_version_requested", m.vmbus_version_requested);
  line.dec("target_vcpu", m.target_vcpu);
  // The union at offset 16 is read the way the requested version defines it.
  if (uses_message_connection_id_4(m.vmbus_version_requested)) {
    line.dec("msg_sint", m.msg_sint());
    line.dec("msg_vtl", m.msg_vtl());
    line.reserved("reserved", m.target_info_reserved());
  } else {
    line.hex("interrupt_page", m.interrupt_page);
  }
  line.hex("monitor_page1", m.monitor_page1);
  line.hex("monitor_page2", m.monitor_page2);
}

void describe_fields(Line& line, const VersionResponse& m) {
  line.dec("version_supported", m.version_supported);
  line.dec("connection_state", m.connection_state);
  line.reserved("padding", m.padding);
  line.dec("msg_conn_id", m.msg_conn_id);
}

void describe_fields(Line& line, const TlConnectRequest& m) {
  line.guid("guest_endpoint_id", m.guest_endpoint_id);
  line.guid("host_service_id", m.host_service_id);
}

void describe_fields(Line& line, const ModifyChannel& m) {
  line.dec("child_relid", m.child_relid);
  line.dec("target_vp", m.target_vp);
}

void describe_fields(Line& line, const ModifyChannelResponse& m) {
  line.dec("child_relid", m.child_relid);
  line.hex("status", m.status);
}

template <typename T>
const MessageHeader& header_of(const T& m) {
  if constexpr (std::is_same_v<T, GpadlHeaderMessage> || std::is_same_v<T, GpadlBodyMessage>) {
    return m.fixed.header;
  } else {
    return m.header;
  }
}

}  // namespace

std::string describe(const Message& message) {
  return std::visit(
      [](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        Line line(T::kType, header_of(m));
        describe_fields(line, m);
        return std::move(line).take();
      },
      message);
}

}  // namespace vmbus::wire
