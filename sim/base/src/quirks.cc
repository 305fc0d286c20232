#include "vmbus/base/quirks.h"

#include <array>

#include "vmbus/base/check.h"

namespace vmbus::base {
namespace {

// One row per Quirk, grouped as the enum is (quirk_info() checks that every
// quirk has its row).
constexpr std::array kQuirks = {
    QuirkInfo{
        Quirk::kReaderSignalsOnOldTest, "reader_signals_on_old_test", kQuirkEither, "ring reader",
        "The reader decides whether to wake a writer blocked on pending_send_sz with the test "
        "Linux's hv_need_to_signal_on_read() first had: signal when the free space before the "
        "batch was strictly below pending_send_sz and is now at least pending_send_sz. Both "
        "boundaries are off by one against a writer that refuses a packet filling the ring "
        "exactly: a writer that blocked with free space equal to pending_send_sz (the usual case "
        "when equal packets divide the ring) is never woken, a hang; a batch that frees up to "
        "exactly pending_send_sz wakes a writer that still cannot write. Removed by \"Drivers: "
        "hv: vmbus: finally fix hv_need_to_signal_on_read()\" (upstream 433e19cf33d3, LIS "
        "2dc0a55c) after \"Fix a bug in hv_need_to_signal_on_read()\" (LIS f3bcc115); the rule "
        "in use today is hv_pkt_iter_close()'s: blocked iff free space was <= pending_send_sz, "
        "wake iff it is now > pending_send_sz."},
    QuirkInfo{
        Quirk::kReaderSignalsWhenFreeEqualsPending, "reader_signals_when_free_equals_pending",
        kQuirkEither, "ring reader",
        "The reader wakes a blocked writer once the free space is no longer below "
        "pending_send_sz, i.e. also when it equals it, as hv_pkt_iter_close() did before the "
        "fix. The writer refuses a packet that would fill the ring exactly (write_index would "
        "catch up with read_index and the ring would look empty), so it wakes, still cannot "
        "write and blocks again: an interrupt the host counts against the guest. Removed by "
        "\"Drivers: hv: vmbus: Fix ring buffer signaling\" (Michael Kelley, 2019): comparisons "
        "with pending_send_sz treat the equals case as not enough space."},
};

}  // namespace

std::span<const QuirkInfo> quirk_table() {
  return kQuirks;
}

const QuirkInfo& quirk_info(Quirk quirk) {
  for (const QuirkInfo& info : kQuirks) {
    if (info.quirk == quirk) {
      return info;
    }
  }
  VMBUS_CHECK(false,
              "quirk " + std::to_string(static_cast<int>(quirk)) + " has no row in the registry");
  return kQuirks.front();  // not reached
}

const QuirkInfo* find_quirk(std::string_view name) {
  for (const QuirkInfo& info : kQuirks) {
    if (info.name == name) {
      return &info;
    }
  }
  return nullptr;
}

std::string quirk_endpoints_text(std::uint8_t endpoints) {
  if (endpoints == kQuirkEither) {
    return "guest, host";
  }
  return endpoints == kQuirkGuest ? "guest" : "host";
}

std::string quirk_names_text() {
  std::string names;
  for (const QuirkInfo& info : kQuirks) {
    names += (names.empty() ? "" : ", ") + std::string(info.name);
  }
  return names;
}

std::vector<std::string> QuirkSet::names() const {
  std::vector<std::string> out;
  for (const QuirkInfo& info : kQuirks) {
    if (has(info.quirk)) {
      out.emplace_back(info.name);
    }
  }
  return out;
}

bool QuirkSet::add_name(std::string_view name, std::uint8_t endpoint, std::string* error) {
  const QuirkInfo* info = find_quirk(name);
  if (info == nullptr) {
    *error = "unknown quirk '" + std::string(name) + "' (known: " + quirk_names_text() + ")";
    return false;
  }
  if ((info->endpoints & endpoint) == 0) {
    *error = "quirk '" + std::string(name) + "' applies to the " +
             quirk_endpoints_text(info->endpoints) + " only";
    return false;
  }
  static_assert(kQuirks.size() <= kCapacity);
  add(info->quirk);
  return true;
}

}  // namespace vmbus::base
