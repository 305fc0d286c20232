// The words of a callback record, and ring counters summed over a
// channel's opens.
#include "vmbus/kmcl/recorded_driver.h"

#include "vmbus/kmcl/device.h"

#include "core.h"

namespace vmbus::kmcl {
namespace {

const char* short_irql(KIRQL irql) {
  return irql == PASSIVE_LEVEL ? "PASSIVE" : irql == DISPATCH_LEVEL ? "DISPATCH" : "IRQL?";
}

// "<callback>[ #<packet>| send#<n>] <IRQL>[ <context>][ <action>]"
std::string callback_text(const CallbackRecord& r, bool with_context) {
  std::string text = r.callback;
  if (r.callback == "ProcessPacket" || r.callback == "Later") {
    text += " #" + std::to_string(r.packet);
  } else if (r.callback == "Completion") {
    text += " send#" + std::to_string(r.packet);
  }
  text += std::string(" ") + short_irql(r.irql);
  if (with_context) {
    text += " " + r.context;
  }
  if (!r.action.empty()) {
    text += " " + r.action;
  }
  return text;
}

void add_reader_counters(ring::ReaderCounters& sum, const ring::ReaderCounters& more) {
  sum.packets += more.packets;
  sum.packet_bytes += more.packet_bytes;
  sum.publishes += more.publishes;
  sum.signals += more.signals;
  sum.end_read_races += more.end_read_races;
  for (std::size_t i = 0; i < sum.corrupt.size(); ++i) {
    sum.corrupt[i] += more.corrupt[i];
  }
}

void add_current(RingCounters& sum, const detail::Channel& ch) {
  if (ch.reader) {
    add_reader_counters(sum.incoming, ch.reader->counters());
  }
  detail::add_writer_counters(sum.outgoing, ch.writer_counters());
}

}  // namespace

std::string to_string(const CallbackRecord& r) {
  return callback_text(r, true);
}

std::string to_scenario_text(const CallbackRecord& r) {
  return callback_text(r, false);
}

void RingCounterSum::add_closed(Device& device, VMBCHANNEL channel) {
  add_current(closed_, device.core().channel_of(channel));
}

RingCounters RingCounterSum::total(Device& device, VMBCHANNEL channel) const {
  RingCounters sum = closed_;
  if (channel != nullptr) {
    add_current(sum, device.core().channel_of(channel));
  }
  return sum;
}

}  // namespace vmbus::kmcl
