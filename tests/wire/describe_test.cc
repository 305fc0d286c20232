// describe(): exact one-line text. Traces compare these byte for byte, so a
// change here is a trace format change.
#include <string>

#include <gtest/gtest.h>

#include "vmbus/wire/codec.h"

#include "wire_test_util.h"

namespace vmbus::wire {
namespace {

using testing::kInstanceGuid;
using testing::kNetworkGuid;
using testing::payload_of_type;
using testing::sample_offer;

TEST(Describe, OfferChannelPrintsEveryFieldInWireOrder) {
  EXPECT_EQ(describe(sample_offer()),
            "CHANNELMSG_OFFERCHANNEL if_type=f8615163-df3e-46c5-913f-f2d2f965ed0e "
            "if_instance=12345678-9abc-def0-0123-456789abcdef chn_flags=0x404 mmio_megabytes=258 "
            // user_def: byte 0 is 0x04, bytes 1..118 zero, byte 119 0xaa.
            "user_def=04" +
                std::string(2 * 118, '0') +
                "aa sub_channel_index=3 child_relid=287454020 monitorid=69 monitor_allocated=1 "
                "is_dedicated_interrupt=1 connection_id=74565");
}

TEST(Describe, OfferChannelShowsNonZeroReservedFieldsAndBits) {
  OfferChannel offer;
  offer.if_type = kNetworkGuid;
  offer.if_instance = kInstanceGuid;
  offer.reserved1[0] = 0x10;
  offer.reserved2[1] = 0x1;
  offer.reserved3 = 0x5;
  offer.child_relid = 1;
  offer.monitor_flags = 0x80;
  offer.interrupt_flags = 0x8001;
  offer.connection_id = 17;

  EXPECT_EQ(describe(offer),
            "CHANNELMSG_OFFERCHANNEL if_type=f8615163-df3e-46c5-913f-f2d2f965ed0e "
            "if_instance=12345678-9abc-def0-0123-456789abcdef reserved1=0x10 "
            "reserved2=0x100000000 chn_flags=0x0 mmio_megabytes=0 user_def=0 sub_channel_index=0 "
            "reserved3=0x5 child_relid=1 monitorid=0 monitor_allocated=0 "
            "monitor_flags.reserved=0x80 is_dedicated_interrupt=1 "
            "interrupt_flags.reserved=0x8000 connection_id=17");
}

TEST(Describe, InitiateContactFrom5_0ShowsMsgSintAndVtl) {
  InitiateContact contact{.vmbus_version_requested = 0x00050003,
                          .target_vcpu = 0,
                          .monitor_page1 = 0x123456000,
                          .monitor_page2 = 0x123457000};
  contact.set_msg_target(2, 0);

  EXPECT_EQ(describe(contact),
            "CHANNELMSG_INITIATE_CONTACT vmbus_version_requested=5.3 (0x50003) target_vcpu=0 "
            "msg_sint=2 msg_vtl=0 monitor_page1=0x123456000 monitor_page2=0x123457000");
}

TEST(Describe, InitiateContactBefore5_0ShowsTheInterruptPage) {
  const InitiateContact contact{.vmbus_version_requested = 0x00040000,
                                .target_vcpu = 1,
                                .interrupt_page = 0x123458000,
                                .monitor_page1 = 0x123456000,
                                .monitor_page2 = 0x123457000};

  EXPECT_EQ(describe(contact),
            "CHANNELMSG_INITIATE_CONTACT vmbus_version_requested=4.0 (0x40000) target_vcpu=1 "
            "interrupt_page=0x123458000 monitor_page1=0x123456000 monitor_page2=0x123457000");
}

TEST(Describe, VersionResponse) {
  EXPECT_EQ(describe(VersionResponse{.version_supported = 1, .msg_conn_id = 4}),
            "CHANNELMSG_VERSION_RESPONSE version_supported=1 connection_state=0 msg_conn_id=4");
}

TEST(Describe, GpadlHeaderListsItsPfnsInHex) {
  const GpadlHeaderMessage header{.fixed = {.child_relid = 1,
                                            .gpadl = 0xE1E10,
                                            .range_buflen = 24,
                                            .rangecount = 1,
                                            .byte_count = 8192,
                                            .byte_offset = 0},
                                  .pfns = {0x123456789, 0xABCDEF}};

  EXPECT_EQ(describe(header),
            "CHANNELMSG_GPADL_HEADER child_relid=1 gpadl=0xe1e10 range_buflen=24 rangecount=1 "
            "byte_count=8192 byte_offset=0 pfns=[0x123456789,0xabcdef]");
}

TEST(Describe, GpadlBodyAndTorndown) {
  EXPECT_EQ(describe(GpadlBodyMessage{.fixed = {.msgnumber = 0, .gpadl = 0xE1E10}, .pfns = {}}),
            "CHANNELMSG_GPADL_BODY msgnumber=0 gpadl=0xe1e10 pfns=[]");
  EXPECT_EQ(describe(GpadlTorndown{.gpadl = 0xE1E10}), "CHANNELMSG_GPADL_TORNDOWN gpadl=0xe1e10");
}

TEST(Describe, StatusesAreHex) {
  EXPECT_EQ(describe(OpenChannelResult{.child_relid = 7, .openid = 7, .status = 0xC0000001}),
            "CHANNELMSG_OPENCHANNEL_RESULT child_relid=7 openid=7 status=0xc0000001");
  EXPECT_EQ(describe(GpadlCreated{.child_relid = 7, .gpadl = 0xE1E10, .creation_status = 0}),
            "CHANNELMSG_GPADL_CREATED child_relid=7 gpadl=0xe1e10 creation_status=0x0");
}

TEST(Describe, OpenChannelTrimsTrailingZeroUserdata) {
  OpenChannel open{.child_relid = 7,
                   .openid = 7,
                   .ringbuffer_gpadlhandle = 0xE1E10,
                   .target_vp = 2,
                   .downstream_ringbuffer_pageoffset = 16};
  open.userdata[1] = 0xAB;

  EXPECT_EQ(describe(open),
            "CHANNELMSG_OPENCHANNEL child_relid=7 openid=7 ringbuffer_gpadlhandle=0xe1e10 "
            "target_vp=2 downstream_ringbuffer_pageoffset=16 userdata=00ab");
}

TEST(Describe, HeaderOnlyMessageIsItsNameAndNonZeroPaddingIsShown) {
  EXPECT_EQ(describe(RequestOffers{}), "CHANNELMSG_REQUESTOFFERS");
  EXPECT_EQ(describe(RequestOffers{.header = {3, 0x77}}),
            "CHANNELMSG_REQUESTOFFERS header.padding=0x77");
}

TEST(Describe, TlConnectRequestShowsBothGuids) {
  EXPECT_EQ(describe(TlConnectRequest{.guest_endpoint_id = kInstanceGuid,
                                      .host_service_id = kNetworkGuid}),
            "CHANNELMSG_TL_CONNECT_REQUEST guest_endpoint_id=12345678-9abc-def0-0123-456789abcdef "
            "host_service_id=f8615163-df3e-46c5-913f-f2d2f965ed0e");
}

TEST(DescribePayload, DescribesAParsablePayload) {
  EXPECT_EQ(describe_payload(encode_message(CloseChannel{.child_relid = 3})),
            "CHANNELMSG_CLOSECHANNEL child_relid=3");
}

TEST(DescribePayload, NamesTheParseErrorOfAnUnparsablePayload) {
  EXPECT_EQ(describe_payload(payload_of_type(7, 10)),
            "unparsed payload_too_short: CHANNELMSG_CLOSECHANNEL needs 12 bytes, got 10");
}

}  // namespace
}  // namespace vmbus::wire
