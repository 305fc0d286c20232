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
    QuirkInfo{
        Quirk::kReaderSkipsSignalWhileMasked, "reader_skips_signal_while_masked", kQuirkEither,
        "ring reader",
        "The reader does not wake a blocked writer while its own ring's interrupt_mask is set, "
        "as hv_pkt_iter_close() did (\"If host has disabled notifications then skip\"). But "
        "interrupt_mask only tells the WRITER not to interrupt the reader; a reader that drains "
        "with the mask set (hv_begin_read(), a NAPI poll, KMCL's drain pass) then never tells "
        "the writer that room appeared: the writer hangs on pending_send_sz. Removed by "
        "\"Drivers: hv: vmbus: Fix ring buffer signaling\" (Michael Kelley, 2019; LIS "
        "35d5eebe): the interrupt_mask must not be used to decide whether to signal on the "
        "host -> guest ring."},
    QuirkInfo{
        Quirk::kReaderSkipsRecheckAfterUnmask, "reader_skips_recheck_after_unmask", kQuirkEither,
        "ring reader",
        "The reader clears interrupt_mask at the end of a drain and stops, without looking at "
        "the ring again. A packet the writer published while the mask was still set got no "
        "interrupt (the writer saw the mask) and is now not read either: it sits in the ring "
        "until something else happens, a hang for a request/response protocol. uio_hv_generic "
        "had this shape when the kernel set interrupt_mask while user mode consumed the ring "
        "(CVE-2025-40048, linux-hyperv <20250818064846.271294-1-namjain@linux.microsoft.com>); "
        "Linux's hv_end_read() is the fix's pattern: clear the mask, full barrier, re-read "
        "write_index and drain again if anything arrived."},
    QuirkInfo{
        Quirk::kWriterSignalsWhenRingFull, "writer_signals_when_ring_full", kQuirkEither,
        "KMCL send path",
        "A send that finds the outgoing ring full interrupts the reader anyway, as Linux's "
        "vmbus_sendpacket_ctl() did when hv_ringbuffer_write() failed (\"ret && "
        "!is_hvsock_channel(channel)\"), hoping the reader drains faster. The reader is already "
        "draining or about to (the ring is full, so it was signalled when it went non-empty): "
        "the interrupt tells it nothing, and Windows hosts throttle a guest that sends them "
        "interrupts the ring state does not call for. Removed by \"Drivers: hv: vmbus: Base "
        "host signaling strictly on the ring state\" (K. Y. Srinivasan, 2016; LIS 07b391bd)."},
    QuirkInfo{
        Quirk::kGuestDeliversPacketFromRing, "guest_delivers_packet_from_ring", kQuirkGuest,
        "KMCL receive path",
        "The guest validates a packet when it dequeues it but hands its driver the bytes that "
        "are in the ring at delivery time, as if the driver held a pointer into the ring "
        "(Linux's hv_pkt_iter_first() returned one). The host owns that memory: it can change "
        "the packet after the guest checked it, and a deferred packet's redelivery then "
        "carries different bytes (a time-of-check/time-of-use hole). Removed by \"Drivers: hv: "
        "vmbus: Copy packets sent by Hyper-V out of the ring buffer\" (Andres Beltran, 2020, "
        "<20200714162203.5138-1-lkmlabelt@gmail.com>; for hv_sock "
        "<20220427131225.3785-3-parri.andrea@gmail.com>)."},
    QuirkInfo{
        Quirk::kGuestTrustsCompletionTransId, "guest_trusts_completion_trans_id", kQuirkGuest,
        "KMCL send path",
        "The guest does not check that a completion's transaction id names a request it has in "
        "flight: an id it never issued (or one already completed) completes the oldest request "
        "in flight, with the host's bytes. Linux used the request's guest address as the id "
        "and turned the host's id back into a pointer, so a bogus id completed whatever that "
        "memory held. Removed by the vmbus_requestor work (small integer ids, checked: "
        "<20200625153723.8428-2-lkmlabelt@gmail.com>) and \"Fix handling of messages with "
        "transaction ID of zero\" (<20220407043028.379534-2-parri.andrea@gmail.com>)."},
    QuirkInfo{
        Quirk::kGuestTakesTransIdZeroForARequest, "guest_takes_trans_id_zero_for_a_request",
        kQuirkGuest, "KMCL send path",
        "The guest checks a completion's transaction id against its requests in flight, except "
        "id 0: no request ever gets id 0, but the lookup answers 0 with \"no address\" rather "
        "than with an error, and the caller takes that for a request. Linux's "
        "vmbus_request_addr() returned 0 for transaction id 0 after the vmbus_requestor "
        "hardening; netvsc_send_completion() then dereferenced the NULL request of an NVSP "
        "message, and netvsc_send_tx_complete() took 0 for a send without an skb and counted a "
        "send completed that the host never answered. A host's VM_PKT_COMP with trans_id 0 -- "
        "an erroneous or malicious host's, or a stale one -- thus completed guest state. The "
        "simulated guest has no request without a context, so the quirk completes its oldest "
        "request in flight, with the host's bytes; the genuine completion is dropped later. "
        "Removed by \"Drivers: hv: vmbus: Fix handling of messages with transaction ID of "
        "zero\" (Andrea Parri, 2022, <20220407043028.379534-2-parri.andrea@gmail.com>): id 0 "
        "is an unknown id like any other (VMBUS_RQST_ERROR)."},

    // Rescind, offer and lifecycle.
    QuirkInfo{
        Quirk::kGuestIgnoresRescindWhileOpening, "guest_ignores_rescind_while_opening", kQuirkGuest,
        "guest control plane",
        "A rescind of a channel whose OPENCHANNEL is still unanswered does not end the wait for "
        "the OPENCHANNEL_RESULT: the guest keeps waiting, as Linux's vmbus_open() did -- its "
        "wait could only be ended by the result, and a host that rescinds a just-offered channel "
        "may never send one. The open, the driver's probe behind it and every channel queued "
        "after it hang, and the relid is never released. Removed by \"Drivers: hv: vmbus: Fix a "
        "rescind issue\" (upstream 7fa32e5ec28b, LIS 70c420a1): the rescind handler completes "
        "what the channel waits for, and vmbus_open() fails for a rescinded channel."},
    QuirkInfo{
        Quirk::kGuestHandlesDuplicateRescind, "guest_handles_duplicate_rescind", kQuirkGuest,
        "guest control plane",
        "A second RESCIND_CHANNELOFFER for a relid the guest has already rescinded is handled "
        "as a new one: the guest finds the channel by its relid again and tears it down a "
        "second time, posting a second RELID_RELEASED for a relid the host may have freed or "
        "offered to another device. Linux's vmbus_onoffer_rescind() did the same, a "
        "use-after-free when an erroneous or malicious host sent the rescind twice. Removed by "
        "\"Drivers: hv: vmbus: Resolve race condition in vmbus_onoffer_rescind()\" (Andrea "
        "Parri, <20201118143649.108465-6-parri.andrea@gmail.com>): only the first rescind of a "
        "channel is acted on."},
    QuirkInfo{
        Quirk::kGuestReadsAfterRescind, "guest_reads_after_rescind", kQuirkGuest, "KMCL close path",
        "A rescind leaves the channel's receive path in place: it does not end the requests "
        "waiting for answers, and the close reads the completions left in the ring instead of "
        "discarding them, so an answer the host wrote around the rescind still completes a "
        "request of a channel that is gone. Linux's vmbus_onoffer_rescind() left the channel "
        "callback installed: a driver whose wait had ended because of the rescind had its "
        "on-stack completion completed later by the late answer (stack corruption). Removed by "
        "\"Drivers: hv: vmbus: Reset the channel callback in vmbus_onoffer_rescind()\" (Dexuan "
        "Cui; LIS b7535149): once the rescind is taken, nothing read from the ring acts on a "
        "request."},
    QuirkInfo{
        Quirk::kGuestReleasesRelidWithGpadlPending, "guest_releases_relid_with_gpadl_pending",
        kQuirkGuest, "guest control plane",
        "A rescind of a channel whose GPADL_HEADER is not answered yet releases the relid at "
        "once. But a host answers GPADL requests of a revoked channel (only OPENCHANNEL goes "
        "unanswered after a revoke), so GPADL_CREATED arrives for a relid the guest gave back "
        "-- and that the host may already have offered to another device. OpenVMM's "
        "vmbus_client did this and panicked on the late answer; removed by \"vmbus_client: fix "
        "handling of revoked channels with active requests\" (OpenVMM 9171c3f38, PR 1100; the "
        "server side is 822d4d4b2, PR 3959, \"vmbus_server: allow gpadls for revoked "
        "channels\"): the channel id is released only once the host answered every request "
        "that names it."},
    QuirkInfo{
        Quirk::kCloseOvertakesOpenSequence, "close_overtakes_open_sequence", kQuirkGuest,
        "KMCL close path",
        "The close a rescind starts runs ahead of the channel's unfinished open sequence "
        "(EvtChannelOpened, EvtChannelStarted, EvtChannelPostStarted) instead of after it. "
        "The close must wait for the sequence to stop; the sequence can only go on after the "
        "close: the passive worker hangs, the channel never closes and the relid is never "
        "released. netvsc had this shape: netvsc_remove() ran while netvsc_probe() was still "
        "setting the device up and hung in napi_disable() on a NAPI instance the probe had not "
        "enabled yet (CVE-2024-26698). Removed by \"hv_netvsc: Fix race condition between "
        "netvsc_probe and netvsc_remove\" "
        "(<1706609772-5783-1-git-send-email-schakrabarti@linux.microsoft.com>): the removal "
        "waits until the probe is done."},
    QuirkInfo{
        Quirk::kGuestOpenErrorPathKeepsGpadl, "guest_open_error_path_keeps_gpadl", kQuirkGuest,
        "guest control plane",
        "When the host answers OPENCHANNEL with a failure, the guest's error path only marks "
        "the channel failed: it does not tear the ring GPADL down and does not free the ring "
        "pages, which stay the host's to map for as long as the guest runs. The rule the fix of "
        "__vmbus_open()'s error path restored (CVE-2021-47049, \"Drivers: hv: vmbus: Use after "
        "free in __vmbus_open()\", where the open request was freed while still on the "
        "channel-message list) is that a failed open undoes all it did, in reverse order, and "
        "frees nothing the host or a list can still reach: GPADL_TEARDOWN, GPADL_TORNDOWN, then "
        "the pages."},
    QuirkInfo{
        Quirk::kGuestReleasesRelidBeforeClose, "guest_releases_relid_before_close", kQuirkGuest,
        "guest control plane",
        "The guest posts RELID_RELEASED as soon as it reads a rescind, while its driver's close "
        "is still to run and may still write completions into the channel's rings. "
        "RELID_RELEASED promises the host that the guest is done with the channel: the host "
        "frees its GPADLs and may offer the relid to another device. Linux releases the relid "
        "in hv_process_channel_removal(), after the driver's remove callback and vmbus_close() "
        "have finished with the rings; this simulator's guest did it at the rescind until a "
        "review found it."},
    QuirkInfo{
        Quirk::kGuestOverwritesChannelOnDuplicateOffer,
        "guest_overwrites_channel_on_duplicate_offer", kQuirkGuest, "guest control plane",
        "An OFFERCHANNEL for a relid the guest already has replaces its record of that channel: "
        "whatever the old record held -- its ring pages, its GPADL, an open channel -- is no "
        "longer reachable and is never freed. Linux's vmbus_process_offer() stored the new "
        "channel in vmbus_connection.channels[relid] over the old one, leaking it, when an "
        "erroneous or malicious host reused a relid. Removed by \"Drivers: hv: vmbus: Do not "
        "allow overwriting vmbus_connection.channels[]\" "
        "(<20201118143649.108465-7-parri.andrea@gmail.com>): such an offer is refused."},
    // Subchannels.
    QuirkInfo{
        Quirk::kHostRescindsPrimaryFirst, "host_rescinds_primary_first", kQuirkHost, "host server",
        "When a device with subchannels goes away, the host posts the primary channel's "
        "RESCIND_CHANNELOFFER first and its subchannels' after it. Linux tears a subchannel down "
        "through its primary, so a primary rescinded while its subchannels are still offered "
        "crashed guests whose channels were offered and rescinded rapidly. OpenVMM's server now "
        "rescinds the subchannels first (openvmm 61e8208ca, #3507; PR #4081, \"We've discovered a "
        "Linux kernel bug that results in crashes when vmbus channels are rapidly offered and "
        "rescinded\")."},
    QuirkInfo{
        Quirk::kGuestOpensSubchannelTwice, "guest_opens_subchannel_twice", kQuirkGuest,
        "guest control plane",
        "A subchannel offered while its primary was still being opened (the driver's probe) is "
        "opened twice: once from the offer path (the driver's subchannel callback) and once more "
        "by the probe, which scans the primary's subchannels when the primary's open finished. "
        "The second open allocates a second ring and GPADL and posts a second OPENCHANNEL for a "
        "channel that is already open. Linux's storvsc did this from storvsc_probe() "
        "(vmbus_are_subchannels_present()) and vmbus_onoffer() at once and could panic; fixed by "
        "\"scsi: storvsc: Fix a race in sub-channel creation that can cause panic\" (upstream "
        "c967590457ca, LIS 65172143), which leaves opening subchannels to the offer path."},

    // Unload, version skew and boot.
    QuirkInfo{
        Quirk::kGuestUnloadMissesResponse, "guest_unload_misses_response", kQuirkGuest,
        "guest control plane",
        "While it waits for the answer to CHANNELMSG_UNLOAD, the guest does not see the "
        "UNLOAD_RESPONSE when it comes: it takes it for a message it has no use for. Linux's "
        "vmbus_wait_for_unload() polls the SynIC message pages with interrupts off, and it "
        "scanned only the CPUs still online; in a panic the other CPUs are taken offline, the "
        "host answers on the page of the CPU VMBus connected on (CPU 0), and unless the panic "
        "happened there the response was never seen: the guest waited its full 100 seconds "
        "and went on with the UNLOAD unfinished. The simulated guest has one VP and one "
        "message page, so the quirk drops the response instead of leaving it on a page nobody "
        "scans. Removed by \"Drivers: hv: vmbus: Fix vmbus_wait_for_unload() to scan present "
        "CPUs\" (Michael Kelley, 2023, "
        "<1684172191-17100-1-git-send-email-mikelley@microsoft.com>)."},
    QuirkInfo{
        Quirk::kGuestOpensBeforeAllOffers, "guest_opens_before_all_offers", kQuirkGuest,
        "guest control plane",
        "The guest takes the first offer after REQUESTOFFERS for the end of the boot-time "
        "offers: it starts bringing channels up, and boot goes on, without waiting for "
        "CHANNELMSG_ALLOFFERS_DELIVERED. Linux's VMBus initialisation returned once it had "
        "asked for the offers; user mode that started right after boot raced the offers still "
        "arriving and could miss a boot-time device, with no way to know. Removed by "
        "\"Drivers: hv: vmbus: Wait for boot-time offers during boot and resume\" (Naman Jain, "
        "2025, <20250102130712.1661-1-namjain@linux.microsoft.com>): the boot-time set of "
        "channels is known only at ALLOFFERS_DELIVERED."},
    QuirkInfo{
        Quirk::kGuestWaitsWithoutTimeout, "guest_waits_without_timeout", kQuirkGuest,
        "KMCL send path",
        "A synchronous request (VmbChannelSendSynchronousRequest) waits for its completion "
        "without the timeout its caller gave: it ends only when the host answers or the "
        "channel goes away. pci-hyperv sent its requests to the VSP and waited for either the "
        "answer or the channel's rescind; a host that sent neither left the probe, or the PCI "
        "operation, waiting forever. Removed by the hard timeout of \"PCI: hv: ...\" (Hamza "
        "Mahfooz, 2026, <20260612174010.2598695-1-hamzamahfooz@linux.microsoft.com>): a wait "
        "on the host must end on its own."},
    QuirkInfo{Quirk::kGuestKeepsQueuedSendsAtRescind, "guest_keeps_queued_sends_at_rescind",
              kQuirkGuest, "KMCL close path",
              "When the host rescinds a channel whose outgoing ring is full, the close leaves the "
              "sends still waiting for ring space where they are: they are neither written nor "
              "failed, so their senders wait forever for room that can never come (the rings are "
              "gone). hv_sock hung this way when the host closed a connection while a writer "
              "waited for space: \"hv_sock: Fix hang when a connection is closed\" and \"hv_sock: "
              "Fix a race condition that causes epollout hang\" (Dexuan Cui, Sunil Muthuswamy, "
              "linux-hyperv 2019). The rule the fixes restore: a close must wake and end every "
              "sender still waiting for room (KMCL completes them with STATUS_DEVICE_REMOVED)."},
    QuirkInfo{
        Quirk::kGuestStopsAtUnknownMessage, "guest_stops_at_unknown_message", kQuirkGuest,
        "guest control plane",
        "The guest's message handling stops at the first host message it cannot place (a "
        "type it does not know, or one the negotiated version does not have): every later "
        "message is dropped, so the bus's control plane is dead. Linux's vmbus_on_msg_dpc() "
        "answers such a message with WARN_ONCE(\"unknown msgtype=%d\") and goes on; a guest "
        "that turns the warning into a failure (panic_on_warn) loses the bus instead. The "
        "case behind it: a host sent CHANNELMSG_TL_CONNECT_RESULT (msgtype 23) to an older "
        "guest, which warned and dropped it, and the hv_sock connect that waited for it timed "
        "out (microsoft/WSL#4723). The rule: a message the guest cannot place costs that "
        "message, never the bus."},
    QuirkInfo{
        Quirk::kHostOffersChnFlags0x4, "host_offers_chn_flags_0x4", kQuirkHost, "host server",
        "The host sets chn_flags 0x4 in every offer, as this simulator's host once did: the "
        "bit was VMBUS_CHANNEL_SERVER_SUPPORTS_GPADLS, which hosts used to set out of habit. "
        "The VMBus 6.0 work (Confidential VMBus) renamed bits 0x2 and 0x4 "
        "VMBUS_CHANNEL_CONFIDENTIAL_RING_BUFFER and VMBUS_CHANNEL_CONFIDENTIAL_EXTERNAL_MEMORY; "
        "a guest that is not confidential cannot give such a channel encrypted memory and "
        "refuses the offer, so it loses every device. Removed in review (defect 3 of issue "
        "13): an offer carries only the flags that apply to its channel, none by default."},

    // Signalling, late interrupts.
    QuirkInfo{
        Quirk::kGuestDropsInterruptsBeforeOpenResult, "guest_drops_interrupts_before_open_result",
        kQuirkGuest, "KMCL open path",
        "The guest's driver reads its channel only when an interrupt tells it to: a channel "
        "interrupt that arrives before OPENCHANNEL_RESULT is dropped (the channel is not open "
        "yet) and, when the open completes, nobody looks at the ring. Packets the host wrote "
        "right after accepting the open then wait for an interrupt that already came and went. "
        "Linux's storvsc ignores channel interrupts that arrive before the OpenResult; "
        "OpenVMM's VMBus server works around such guests by signalling a channel again a "
        "while after its open completes (channel_unstick_delay). A guest without the bug looks "
        "at its incoming ring once when the channel opens (KMCL enables the incoming queue "
        "with a drain pass after EvtChannelStarted)."},
    QuirkInfo{
        Quirk::kHostNeverUnsticks, "host_never_unsticks", kQuirkHost, "host server",
        "The server never looks at a channel again once its open completed: a guest that "
        "dropped the channel's first interrupt because it came before OPENCHANNEL_RESULT (as "
        "Linux's storvsc does) keeps packets in its ring with no interrupt coming, and the "
        "channel stays stuck. OpenVMM's VMBus server was like this until it learned to unstick "
        "such channels (openvmm PR #1829, vmbus_server channel_unstick_delay): a while after "
        "a channel opens, if the host -> guest ring is not empty, it signals the guest again. "
        "The quirk turns that re-signal off (HostConfig.unstick_delay_us, a scenario's "
        "topology host_unstick_delay_us, sets the delay)."},

    // Hibernation: suspend and resume of the bus.
    QuirkInfo{
        Quirk::kGuestHandlesRescindWhileSuspended, "guest_handles_rescind_while_suspended",
        kQuirkGuest, "guest control plane",
        "A RESCIND_CHANNELOFFER that reaches the guest after its bus suspended for hibernation "
        "(its channels closed and kept for resume, UNLOAD posted) is processed as on a live "
        "bus: the channel is torn down and CHANNELMSG_RELID_RELEASED is posted to a host the "
        "UNLOAD already disconnected, while the channel stays counted among those the resume "
        "must find again, so the resume waits for an offer that never comes. Linux scheduled "
        "the rescind's work on the system work queue, which suspend neither drained nor "
        "stopped, and it ran after vmbus_bus_suspend() had suspended the channel. Removed by "
        "\"Drivers: hv: vm_bus: "
        "Handle vmbus rescind calls after vmbus is suspended\" (Shradha Gupta, 2022, "
        "<20220710181458.GA20827@linuxonhyperv3.guj3yctzbm1etfxqx2vob5hsef.xx.internal."
        "cloudapp.net>): once the bus suspends, offer and rescind messages are dropped "
        "(ignore_any_offer_msg) and the rescind work queue is drained first. The simulated "
        "guest goes one step further: the rescinded device is not expected on resume."},
    QuirkInfo{
        Quirk::kGuestWaitsForeverOnResume, "guest_waits_forever_on_resume", kQuirkGuest,
        "guest control plane",
        "On resume from hibernation the guest waits, with no timeout, until every channel it "
        "kept at suspend has been offered again (matched by interface and instance GUID). A "
        "device whose instance GUID changed while the VM was off (an SR-IOV VF's did) or that "
        "is gone is never matched, and the resume never ends. Linux's vmbus_bus_resume() "
        "waited on ready_for_resume_event this way. Removed by \"Drivers: hv: vmbus: "
        "hibernation: do not hang forever in vmbus_bus_resume()\" (Dexuan Cui, 2020, upstream "
        "19873eec7e13, <20200905025555.45614-1-decui@microsoft.com>): the wait has a timeout "
        "(10 s in Linux), after which the resume goes on without the missing device and "
        "reports it, and a further suspend is refused."},
    // Virtual processors: a channel's interrupts moved between VPs.
    QuirkInfo{
        Quirk::kGuestDropsInterruptOnOldVp, "guest_drops_interrupt_on_old_vp", kQuirkGuest,
        "guest ISR",
        "The guest services a channel's interrupt only on the VP it believes the channel "
        "targets: once it has moved the channel (MODIFYCHANNEL answered), an interrupt that "
        "still arrives on the old VP is dropped. Hyper-V retargets asynchronously, so the "
        "first interrupts after the change may land on the old VP; dropping one leaves the "
        "packets it announced in the ring with no interrupt coming, and I/O times out. The "
        "historical bug is the same loss one level down: an IRQ lost while x86 Linux forced a "
        "vector migration off an offlined CPU while Hyper-V still delivered to the old "
        "target, fixed by the RFC \"x86/apic: Fix lost IRQ during forced vector migration on "
        "Hyper-V\" (linux-hyperv, 2026-07-10, "
        "<20260710054007.288807-1-namjain@linux.microsoft.com>), which re-checks the old "
        "vector for a pending IRQ after the move. Linux's VMBus code tolerates the lag "
        "(target_cpu_store(): an interrupt may come in on a CPU other than the channel's "
        "target_cpu; vmbus_chan_sched() services every channel whose bit is set on the CPU "
        "the interrupt arrived at)."},
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
