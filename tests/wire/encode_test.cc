// encode_message(): exact payload bytes, written out by hand from the
// byte offsets of Linux include/linux/hyperv.h.
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "vmbus/wire/codec.h"

#include "wire_test_util.h"

namespace vmbus::wire {
namespace {

using testing::bytes_of;
using testing::put;
using testing::sample_offer;

TEST(EncodeMessage, OfferChannelIs196BytesWithEveryFieldAtItsOffset) {
  const std::vector<std::byte> encoded = encode_message(sample_offer());

  std::vector<std::byte> expected(196);
  put(expected, 0, {0x01, 0x00, 0x00, 0x00});  // msgtype 1, padding 0
  put(expected, 8,
      {0x63, 0x51, 0x61, 0xf8, 0x3e, 0xdf, 0xc5, 0x46,  // if_type
       0x91, 0x3f, 0xf2, 0xd2, 0xf9, 0x65, 0xed, 0x0e});
  put(expected, 24,
      {0x78, 0x56, 0x34, 0x12, 0xbc, 0x9a, 0xf0, 0xde,  // if_instance
       0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef});
  put(expected, 56, {0x04, 0x04});               // chn_flags 0x404
  put(expected, 58, {0x02, 0x01});               // mmio_megabytes 0x102
  put(expected, 60, {0x04});                     // user_def[0] (pipe mode MESSAGE)
  put(expected, 179, {0xAA});                    // user_def[119]
  put(expected, 180, {0x03, 0x00});              // sub_channel_index 3
  put(expected, 184, {0x44, 0x33, 0x22, 0x11});  // child_relid 0x11223344
  put(expected, 188, {0x45});                    // monitorid
  put(expected, 189, {0x01});                    // monitor_allocated
  put(expected, 190, {0x01, 0x00});              // is_dedicated_interrupt
  put(expected, 192, {0x45, 0x23, 0x01, 0x00});  // connection_id 0x12345
  EXPECT_EQ(encoded, expected);
}

TEST(EncodeMessage, OpenChannelIs148BytesWithUserdataAt28) {
  OpenChannel open{.child_relid = 7,
                   .openid = 7,
                   .ringbuffer_gpadlhandle = 0xE1E10,
                   .target_vp = 2,
                   .downstream_ringbuffer_pageoffset = 0x10};
  open.userdata[0] = 0xAB;
  open.userdata[119] = 0xCD;

  const std::vector<std::byte> encoded = encode_message(open);

  std::vector<std::byte> expected(148);
  put(expected, 0, {0x05, 0x00, 0x00, 0x00});   // msgtype 5
  put(expected, 8, {0x07, 0x00, 0x00, 0x00});   // child_relid
  put(expected, 12, {0x07, 0x00, 0x00, 0x00});  // openid
  put(expected, 16, {0x10, 0x1e, 0x0e, 0x00});  // ringbuffer_gpadlhandle 0xe1e10
  put(expected, 20, {0x02, 0x00, 0x00, 0x00});  // target_vp
  put(expected, 24, {0x10, 0x00, 0x00, 0x00});  // downstream_ringbuffer_pageoffset
  put(expected, 28, {0xAB});                    // userdata[0]
  put(expected, 147, {0xCD});                   // userdata[119]
  EXPECT_EQ(encoded, expected);
}

TEST(EncodeMessage, InitiateContactFrom5_0CarriesMsgSintAndVtlAt16) {
  InitiateContact contact{.vmbus_version_requested = 0x00050003,
                          .target_vcpu = 0,
                          .monitor_page1 = 0x123456000,
                          .monitor_page2 = 0x123457000};
  contact.set_msg_target(/*sint=*/2, /*vtl=*/0);

  EXPECT_EQ(encode_message(contact),
            bytes_of({0x0e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,     // msgtype 14
                      0x03, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00,     // 5.3, target_vcpu 0
                      0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,     // msg_sint 2, msg_vtl 0
                      0x00, 0x60, 0x45, 0x23, 0x01, 0x00, 0x00, 0x00,     // monitor_page1
                      0x00, 0x70, 0x45, 0x23, 0x01, 0x00, 0x00, 0x00}));  // monitor_page2
}

TEST(EncodeMessage, InitiateContactBefore5_0CarriesTheInterruptPageAt16) {
  const InitiateContact contact{.vmbus_version_requested = 0x00040000,
                                .target_vcpu = 1,
                                .interrupt_page = 0x123458000,
                                .monitor_page1 = 0x123456000,
                                .monitor_page2 = 0x123457000};

  EXPECT_EQ(encode_message(contact),
            bytes_of({0x0e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,     // msgtype 14
                      0x00, 0x00, 0x04, 0x00, 0x01, 0x00, 0x00, 0x00,     // 4.0, target_vcpu 1
                      0x00, 0x80, 0x45, 0x23, 0x01, 0x00, 0x00, 0x00,     // interrupt_page
                      0x00, 0x60, 0x45, 0x23, 0x01, 0x00, 0x00, 0x00,     // monitor_page1
                      0x00, 0x70, 0x45, 0x23, 0x01, 0x00, 0x00, 0x00}));  // monitor_page2
}

TEST(EncodeMessage, InitiateContactTargetAccessorsReadTheUnionBytes) {
  InitiateContact contact;
  contact.set_msg_target(2, 1);

  EXPECT_EQ(contact.interrupt_page, 0x0102u);
  EXPECT_EQ(contact.msg_sint(), 2);
  EXPECT_EQ(contact.msg_vtl(), 1);
  EXPECT_EQ(contact.target_info_reserved(), 0u);
}

TEST(EncodeMessage, VersionResponseIs16BytesWithMsgConnIdAt12) {
  const VersionResponse response{
      .version_supported = 1, .connection_state = 2, .padding = 0, .msg_conn_id = 4};

  EXPECT_EQ(encode_message(response),
            bytes_of({0x0f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,     // msgtype 15
                      0x01, 0x02, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00}));  // supported, state, id 4
}

TEST(EncodeMessage, GpadlHeaderIs28BytesPlus8PerPfnStartingAtUnalignedOffset28) {
  const GpadlHeaderMessage header{.fixed = {.child_relid = 1,
                                            .gpadl = 0xE1E10,
                                            .range_buflen = 24,
                                            .rangecount = 1,
                                            .byte_count = 8192,
                                            .byte_offset = 0},
                                  .pfns = {0x123456789, 0xABCDEF}};

  EXPECT_EQ(encode_message(header),
            bytes_of({0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,     // msgtype 8
                      0x01, 0x00, 0x00, 0x00,                             // child_relid 1
                      0x10, 0x1e, 0x0e, 0x00,                             // gpadl 0xe1e10
                      0x18, 0x00,                                         // range_buflen 24
                      0x01, 0x00,                                         // rangecount 1
                      0x00, 0x20, 0x00, 0x00,                             // byte_count 8192
                      0x00, 0x00, 0x00, 0x00,                             // byte_offset 0
                      0x89, 0x67, 0x45, 0x23, 0x01, 0x00, 0x00, 0x00,     // pfn 0x123456789 @28
                      0xEF, 0xCD, 0xAB, 0x00, 0x00, 0x00, 0x00, 0x00}));  // pfn 0xabcdef @36
}

TEST(EncodeMessage, GpadlBodyIs16BytesPlus8PerPfn) {
  const GpadlBodyMessage body{.fixed = {.msgnumber = 0, .gpadl = 0xE1E10}, .pfns = {0x42}};

  EXPECT_EQ(encode_message(body),
            bytes_of({0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,     // msgtype 9
                      0x00, 0x00, 0x00, 0x00, 0x10, 0x1e, 0x0e, 0x00,     // msgnumber 0, gpadl
                      0x42, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}));  // pfn 0x42 @16
}

TEST(EncodeMessage, HeaderOnlyMessagesAreEightBytes) {
  EXPECT_EQ(encode_message(RequestOffers{}), bytes_of({3, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(encode_message(AllOffersDelivered{}), bytes_of({4, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(encode_message(Unload{}), bytes_of({16, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(encode_message(UnloadResponse{}), bytes_of({17, 0, 0, 0, 0, 0, 0, 0}));
}

TEST(EncodeMessage, EverySampleEncodesToItsTableMinimumPlusPfns) {
  for (const Message& message : testing::sample_messages()) {
    const MessageInfo& info = message_info(message_type_of(message));
    std::size_t pfn_bytes = 0;
    if (const auto* header = std::get_if<GpadlHeaderMessage>(&message)) {
      pfn_bytes = 8 * header->pfns.size();
    } else if (const auto* body = std::get_if<GpadlBodyMessage>(&message)) {
      pfn_bytes = 8 * body->pfns.size();
    }
    EXPECT_EQ(encode_message(message).size(), info.min_payload_bytes + pfn_bytes) << info.name;
  }
}

TEST(HvMessageSlot, MakeHvMessageFillsTypeSizeSenderAndPayload) {
  const std::vector<std::byte> payload = encode_message(GpadlTorndown{.gpadl = 0xE1E10});

  const HvMessage slot = make_hv_message(payload, /*sender=*/1);

  EXPECT_EQ(slot.message_type, kHvMessageTypeVmbus);
  EXPECT_EQ(slot.payload_size, 12);
  EXPECT_EQ(slot.message_flags, 0);
  EXPECT_EQ(slot.sender, 1u);
  EXPECT_EQ(std::vector<std::byte>(std::as_bytes(std::span(slot.payload)).begin(),
                                   std::as_bytes(std::span(slot.payload)).begin() + 12),
            payload);
}

}  // namespace
}  // namespace vmbus::wire
