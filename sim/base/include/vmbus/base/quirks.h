// Quirks: named switches that put a historical VMBus bug back into one
// simulated endpoint, so that a regression scenario can show the oracles
// catching it.
//
// Every quirk is off by default and lives beside the correct code path it
// alters (the ring reader's signal decision, the guest's control plane, the
// host's server, ...); with no quirk set, nothing behaves differently. The
// registry below is the one list: its stable snake_case names are what
// scenario files write (guest_quirks, host_quirks), what the partitions'
// configurations carry, what `vmbus-sim quirks` prints and what
// docs/REGRESSIONS.md names. Each row says which endpoint(s) the quirk can
// be set on and documents the buggy code and the fix that removed it.
//
// Code asks `quirks.has(Quirk::kX)` on the QuirkSet its owner was given:
// one bit test, cheap enough for a signal decision.
//
// Used by: the scenario loader (names -> problems), the compiler and the
// partitions (names -> QuirkSet), the ring library, KMCL and the control
// planes (has()), the CLI (the listing).
#pragma once

#include <bitset>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vmbus::base {

// One historical bug, grouped as docs/REGRESSIONS.md groups them. The
// names are stable, the numbers are not (nothing stores them): add a quirk
// at the end of its group, with its row at the same place in the registry.
enum class Quirk : std::uint8_t {
  // Signalling, interrupt mask and flow control; a hostile host.
  kReaderSignalsOnOldTest,
  kReaderSignalsWhenFreeEqualsPending,
  kReaderSkipsSignalWhileMasked,
  kReaderSkipsRecheckAfterUnmask,
  kWriterSignalsWhenRingFull,
  kGuestDeliversPacketFromRing,
  kGuestTrustsCompletionTransId,
  kGuestTakesTransIdZeroForARequest,

  // Rescind, offer and lifecycle.
  kGuestIgnoresRescindWhileOpening,
  kGuestHandlesDuplicateRescind,
  kGuestReadsAfterRescind,
  kGuestReleasesRelidWithGpadlPending,
  kCloseOvertakesOpenSequence,
  kGuestOpenErrorPathKeepsGpadl,
  kGuestReleasesRelidBeforeClose,
  kGuestOverwritesChannelOnDuplicateOffer,

  // Subchannels.
  kHostRescindsPrimaryFirst,
  kGuestOpensSubchannelTwice,

  // Unload, version skew and boot.
  kGuestUnloadMissesResponse,
  kGuestOpensBeforeAllOffers,
  kGuestWaitsWithoutTimeout,
  kGuestKeepsQueuedSendsAtRescind,
  kGuestStopsAtUnknownMessage,
  kHostOffersChnFlags0x4,

  // Signalling, late interrupts.
  kGuestDropsInterruptsBeforeOpenResult,
  kHostNeverUnsticks,

  // Hibernation: suspend and resume of the bus.
  kGuestHandlesRescindWhileSuspended,
  kGuestWaitsForeverOnResume,
  // Virtual processors: a channel's interrupts moved between VPs.
  kGuestDropsInterruptOnOldVp,
};

// Where a quirk can be set: bits, a quirk may allow both.
enum QuirkEndpoints : std::uint8_t {
  kQuirkGuest = 1,
  kQuirkHost = 2,
  kQuirkEither = kQuirkGuest | kQuirkHost,
};

struct QuirkInfo {
  Quirk quirk;
  std::string_view name;       // "reader_signals_on_old_test"
  std::uint8_t endpoints;      // QuirkEndpoints bits
  std::string_view component;  // the code it alters: "ring reader", "guest control plane", ...
  // One paragraph: what the buggy code did, and the fix that removed it
  // (title, commit, CVE or list reference).
  std::string_view documentation;
};

// Every quirk, in its group's order.
std::span<const QuirkInfo> quirk_table();
const QuirkInfo& quirk_info(Quirk quirk);
// nullptr for a name the registry does not know.
const QuirkInfo* find_quirk(std::string_view name);
// "guest", "host" or "guest, host".
std::string quirk_endpoints_text(std::uint8_t endpoints);
// Every name, comma-separated, for "unknown quirk" messages.
std::string quirk_names_text();

// The quirks one endpoint runs with.
class QuirkSet {
 public:
  static constexpr std::size_t kCapacity = 128;

  bool has(Quirk quirk) const { return bits_.test(static_cast<std::size_t>(quirk)); }
  bool empty() const { return bits_.none(); }
  void add(Quirk quirk) { bits_.set(static_cast<std::size_t>(quirk)); }
  // The names, in registry order.
  std::vector<std::string> names() const;

  // The set `names` spell for `endpoint` (kQuirkGuest or kQuirkHost), or
  // nullopt with `*error` saying which name is unknown or not for it.
  template <typename Names>
  static std::optional<QuirkSet> parse(const Names& names, std::uint8_t endpoint,
                                       std::string* error) {
    QuirkSet set;
    for (const auto& name : names) {
      if (!set.add_name(std::string_view(name), endpoint, error)) {
        return std::nullopt;
      }
    }
    return set;
  }

 private:
  bool add_name(std::string_view name, std::uint8_t endpoint, std::string* error);

  std::bitset<kCapacity> bits_;
};

}  // namespace vmbus::base
