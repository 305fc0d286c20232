// GPADL split (guest) and reassembly (host).
#include "vmbus/wire/gpadl.h"

#include <cstdint>
#include <numeric>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "vmbus/wire/codec.h"

#include "wire_test_util.h"

namespace vmbus::wire {
namespace {

using testing::bytes_of;

constexpr std::uint32_t kRelid = 7;
constexpr std::uint32_t kGpadl = 0xE1E10;

// PFNs 0x1000, 0x1001, ...: distinct, so order mistakes show.
std::vector<std::uint64_t> pfn_list(std::size_t count) {
  std::vector<std::uint64_t> pfns(count);
  std::iota(pfns.begin(), pfns.end(), std::uint64_t{0x1000});
  return pfns;
}

GpadlHeaderMessage header_for_pages(std::uint32_t pages, std::size_t pfns_in_header) {
  return GpadlHeaderMessage{.fixed = {.child_relid = kRelid,
                                      .gpadl = kGpadl,
                                      .range_buflen = static_cast<std::uint16_t>(8 + 8 * pages),
                                      .rangecount = 1,
                                      .byte_count = pages * 4096,
                                      .byte_offset = 0},
                            .pfns = pfn_list(pfns_in_header)};
}

GpadlBodyMessage body_with(std::uint32_t gpadl, std::vector<std::uint64_t> pfns) {
  return GpadlBodyMessage{.fixed = {.msgnumber = 0, .gpadl = gpadl}, .pfns = std::move(pfns)};
}

GpadlErrorCode error_code_of(const Result<GpadlProgress, GpadlError>& result) {
  EXPECT_FALSE(result.ok());
  return result.ok() ? GpadlErrorCode{} : result.error().code;
}

struct SplitCase {
  std::size_t pages;
  std::vector<std::size_t> payload_bytes;  // of each message, in order
};

// gtest prints a parameter in test listings; without this it dumps the
// vector's pointers, which differ from run to run.
void PrintTo(const SplitCase& split_case, std::ostream* out) {
  *out << split_case.pages << " pages";
}

class GpadlSplit : public ::testing::TestWithParam<SplitCase> {};

TEST_P(GpadlSplit, SplitsIntoHeaderAndBodiesOfExactSizeAndContent) {
  const SplitCase& split_case = GetParam();
  const std::vector<std::uint64_t> pfns = pfn_list(split_case.pages);

  const std::vector<std::vector<std::byte>> payloads = split_gpadl(kRelid, kGpadl, pfns);

  ASSERT_EQ(payloads.size(), split_case.payload_bytes.size());
  ASSERT_EQ(payloads.size(), gpadl_message_count(split_case.pages));
  std::vector<std::uint64_t> carried;
  for (std::size_t i = 0; i < payloads.size(); ++i) {
    EXPECT_EQ(payloads[i].size(), split_case.payload_bytes[i]) << "message " << i;
    const ParseResult parsed = parse_message(payloads[i], Receiver::kHost);
    ASSERT_TRUE(parsed.ok()) << to_string(parsed.error());
    if (i == 0) {
      const auto& header = std::get<GpadlHeaderMessage>(parsed.value());
      EXPECT_EQ(header.fixed.child_relid, kRelid);
      EXPECT_EQ(header.fixed.gpadl, kGpadl);
      EXPECT_EQ(header.fixed.rangecount, 1);
      EXPECT_EQ(header.fixed.range_buflen, 8 + 8 * split_case.pages);
      EXPECT_EQ(header.fixed.byte_count, 4096 * split_case.pages);
      EXPECT_EQ(header.fixed.byte_offset, 0u);
      carried.insert(carried.end(), header.pfns.begin(), header.pfns.end());
    } else {
      const auto& body = std::get<GpadlBodyMessage>(parsed.value());
      EXPECT_EQ(body.fixed.msgnumber, 0u);
      EXPECT_EQ(body.fixed.gpadl, kGpadl);
      carried.insert(carried.end(), body.pfns.begin(), body.pfns.end());
    }
  }
  EXPECT_EQ(carried, pfns);
}

TEST_P(GpadlSplit, ReassemblesToTheOriginalPfns) {
  const std::vector<std::uint64_t> pfns = pfn_list(GetParam().pages);
  const std::vector<std::vector<std::byte>> payloads = split_gpadl(kRelid, kGpadl, pfns);
  GpadlAssembler assembler(/*max_pages=*/1024);

  for (std::size_t i = 0; i < payloads.size(); ++i) {
    const ParseResult parsed = parse_message(payloads[i], Receiver::kHost);
    ASSERT_TRUE(parsed.ok());
    const auto progress = i == 0
                              ? assembler.add_header(std::get<GpadlHeaderMessage>(parsed.value()))
                              : assembler.add_body(std::get<GpadlBodyMessage>(parsed.value()));
    ASSERT_TRUE(progress.ok()) << to_string(progress.error());
    EXPECT_EQ(progress.value(),
              i + 1 == payloads.size() ? GpadlProgress::kComplete : GpadlProgress::kNeedMore)
        << "message " << i;
  }
  EXPECT_TRUE(assembler.complete());
  EXPECT_EQ(assembler.child_relid(), kRelid);
  EXPECT_EQ(assembler.gpadl(), kGpadl);
  EXPECT_EQ(assembler.pages_expected(), pfns.size());
  EXPECT_EQ(assembler.pfns(), pfns);
}

// Header: 28 + 8 * min(pages, 26) bytes; bodies: 16 + 8 * up to 28.
INSTANTIATE_TEST_SUITE_P(PageCounts, GpadlSplit,
                         ::testing::Values(SplitCase{1, {36}}, SplitCase{26, {236}},
                                           SplitCase{27, {236, 24}}, SplitCase{54, {236, 240}},
                                           SplitCase{55, {236, 240, 24}},
                                           SplitCase{1000,
                                                     [] {
                                                       // 26 + 34 * 28 = 978; the last body has 22.
                                                       std::vector<std::size_t> sizes = {236};
                                                       sizes.insert(sizes.end(), 34, 240);
                                                       sizes.push_back(16 + 8 * 22);
                                                       return sizes;
                                                     }()}),
                         [](const ::testing::TestParamInfo<SplitCase>& param_info) {
                           return std::to_string(param_info.param.pages) + "Pages";
                         });

TEST(GpadlSplitBytes, TwentySevenPagesPutsThe27thPfnInABodyAtOffset16) {
  const std::vector<std::vector<std::byte>> payloads = split_gpadl(kRelid, kGpadl, pfn_list(27));

  ASSERT_EQ(payloads.size(), 2u);
  // Header: range_buflen 8 + 8 * 27 = 224 (0xe0), byte_count 27 * 4096 = 0x1b000.
  EXPECT_EQ(std::vector<std::byte>(payloads[0].begin(), payloads[0].begin() + 36),
            bytes_of({0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // msgtype 8
                      0x07, 0x00, 0x00, 0x00, 0x10, 0x1e, 0x0e, 0x00,  // relid 7, gpadl
                      0xe0, 0x00, 0x01, 0x00,                          // range_buflen, rangecount
                      0x00, 0xb0, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,  // byte_count, byte_offset
                      0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}));  // pfn[0] 0x1000
  EXPECT_EQ(payloads[1],
            bytes_of({0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,     // msgtype 9
                      0x00, 0x00, 0x00, 0x00, 0x10, 0x1e, 0x0e, 0x00,     // msgnumber 0, gpadl
                      0x1a, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}));  // pfn[26] 0x101a
}

TEST(GpadlSplitBytes, MessageCountCoversTheBoundaries) {
  EXPECT_EQ(gpadl_message_count(1), 1u);
  EXPECT_EQ(gpadl_message_count(26), 1u);
  EXPECT_EQ(gpadl_message_count(27), 2u);
  EXPECT_EQ(gpadl_message_count(54), 2u);
  EXPECT_EQ(gpadl_message_count(55), 3u);
  EXPECT_EQ(gpadl_message_count(1000), 36u);
  EXPECT_EQ(gpadl_message_count(kGpadlMaxPages), 1 + (8190 - 26 + 27) / 28u);
}

TEST(GpadlAssembler, CompletesFromAHeaderAlone) {
  GpadlAssembler assembler(16);

  const auto progress = assembler.add_header(header_for_pages(3, 3));

  ASSERT_TRUE(progress.ok());
  EXPECT_EQ(progress.value(), GpadlProgress::kComplete);
  EXPECT_EQ(assembler.pfns(), pfn_list(3));
}

TEST(GpadlAssembler, RefusesABodyForAnotherGpadl) {
  GpadlAssembler assembler(64);
  ASSERT_TRUE(assembler.add_header(header_for_pages(30, 26)).ok());

  const auto progress = assembler.add_body(body_with(kGpadl + 1, {1, 2, 3, 4}));

  ASSERT_FALSE(progress.ok());
  EXPECT_EQ(progress.error().code, GpadlErrorCode::kGpadlMismatch);
  EXPECT_EQ(to_string(progress.error()),
            "gpadl_mismatch: GPADL_BODY for gpadl 0xe1e11, header was for 0xe1e10");
  EXPECT_TRUE(assembler.failed());
}

TEST(GpadlAssembler, RefusesABodyWithMorePfnsThanAnnounced) {
  GpadlAssembler assembler(64);
  ASSERT_TRUE(assembler.add_header(header_for_pages(27, 26)).ok());

  const auto progress = assembler.add_body(body_with(kGpadl, {1, 2}));

  ASSERT_FALSE(progress.ok());
  EXPECT_EQ(progress.error().code, GpadlErrorCode::kTooManyPfns);
  EXPECT_EQ(progress.error().message,
            "GPADL_BODY brings 2 PFNs, only 1 of 27 announced pages remain");
  EXPECT_EQ(assembler.pfns().size(), 26u);
}

TEST(GpadlAssembler, RefusesAHeaderWithMorePfnsThanItAnnounces) {
  GpadlAssembler assembler(64);

  EXPECT_EQ(error_code_of(assembler.add_header(header_for_pages(2, 3))),
            GpadlErrorCode::kTooManyPfns);
}

TEST(GpadlAssembler, RefusesAnyRangeCountButOne) {
  for (const std::uint16_t rangecount : std::vector<std::uint16_t>{0, 2, 0xFFFF}) {
    GpadlHeaderMessage header = header_for_pages(3, 3);
    header.fixed.rangecount = rangecount;
    GpadlAssembler assembler(64);

    EXPECT_EQ(error_code_of(assembler.add_header(header)), GpadlErrorCode::kBadRangeCount)
        << rangecount;
  }
}

TEST(GpadlAssembler, RefusesMorePagesThanTheLimitBeforeAllocating) {
  GpadlAssembler assembler(/*max_pages=*/16);

  const auto progress = assembler.add_header(header_for_pages(17, 17));

  ASSERT_FALSE(progress.ok());
  EXPECT_EQ(progress.error().code, GpadlErrorCode::kOverLimit);
  EXPECT_EQ(progress.error().message, "17 pages exceed the limit of 16");
  EXPECT_EQ(assembler.pfns().capacity(), 0u);
}

TEST(GpadlAssembler, AcceptsExactlyTheLimit) {
  GpadlAssembler assembler(/*max_pages=*/16);

  EXPECT_TRUE(assembler.add_header(header_for_pages(16, 16)).ok());
}

TEST(GpadlAssembler, RefusesANonZeroByteOffset) {
  GpadlHeaderMessage header = header_for_pages(3, 3);
  header.fixed.byte_offset = 16;
  GpadlAssembler assembler(64);

  EXPECT_EQ(error_code_of(assembler.add_header(header)), GpadlErrorCode::kBadByteOffset);
}

TEST(GpadlAssembler, RefusesAByteCountThatIsNotTheAnnouncedPages) {
  GpadlHeaderMessage header = header_for_pages(3, 3);
  header.fixed.byte_count = 3 * 4096 - 1;
  GpadlAssembler assembler(64);

  EXPECT_EQ(error_code_of(assembler.add_header(header)), GpadlErrorCode::kBadByteCount);
}

TEST(GpadlAssembler, RefusesARangeBuflenThatIsNotAPageList) {
  GpadlHeaderMessage header = header_for_pages(3, 3);
  header.fixed.range_buflen = 31;
  GpadlAssembler assembler(64);

  EXPECT_EQ(error_code_of(assembler.add_header(header)), GpadlErrorCode::kBadRangeBuflen);
}

TEST(GpadlAssembler, RefusesAGpadlOfNoPages) {
  GpadlAssembler assembler(64);

  EXPECT_EQ(error_code_of(assembler.add_header(header_for_pages(0, 0))), GpadlErrorCode::kNoPages);
}

TEST(GpadlAssembler, RefusesAnEmptyBody) {
  GpadlAssembler assembler(64);
  ASSERT_TRUE(assembler.add_header(header_for_pages(30, 26)).ok());

  EXPECT_EQ(error_code_of(assembler.add_body(body_with(kGpadl, {}))), GpadlErrorCode::kEmptyBody);
}

TEST(GpadlAssembler, RefusesABodyBeforeTheHeader) {
  GpadlAssembler assembler(64);

  EXPECT_EQ(error_code_of(assembler.add_body(body_with(kGpadl, {1}))),
            GpadlErrorCode::kUnexpectedBody);
}

TEST(GpadlAssembler, RefusesABodyAfterCompletion) {
  GpadlAssembler assembler(64);
  ASSERT_TRUE(assembler.add_header(header_for_pages(2, 2)).ok());

  EXPECT_EQ(error_code_of(assembler.add_body(body_with(kGpadl, {1}))),
            GpadlErrorCode::kUnexpectedBody);
}

TEST(GpadlAssembler, RefusesASecondHeader) {
  GpadlAssembler assembler(64);
  ASSERT_TRUE(assembler.add_header(header_for_pages(30, 26)).ok());

  EXPECT_EQ(error_code_of(assembler.add_header(header_for_pages(30, 26))),
            GpadlErrorCode::kUnexpectedHeader);
}

TEST(GpadlAssembler, StaysFailedAfterAnError) {
  GpadlAssembler assembler(64);
  ASSERT_TRUE(assembler.add_header(header_for_pages(30, 26)).ok());
  ASSERT_FALSE(assembler.add_body(body_with(kGpadl + 1, {1})).ok());

  EXPECT_EQ(error_code_of(assembler.add_body(body_with(kGpadl, {1, 2, 3, 4}))),
            GpadlErrorCode::kAlreadyFailed);
  EXPECT_FALSE(assembler.complete());
}

TEST(GpadlAssembler, ErrorCodesHaveStableDistinctNames) {
  const std::vector<std::string> expected = {
      "unexpected_header", "unexpected_body", "bad_range_count", "bad_byte_offset",
      "bad_range_buflen",  "no_pages",        "over_limit",      "bad_byte_count",
      "gpadl_mismatch",    "empty_body",      "too_many_pfns",   "already_failed"};
  ASSERT_EQ(expected.size(), kGpadlErrorCodeCount);
  for (std::size_t i = 0; i < kGpadlErrorCodeCount; ++i) {
    EXPECT_EQ(gpadl_error_code_name(static_cast<GpadlErrorCode>(i)), expected[i]);
  }
}

}  // namespace
}  // namespace vmbus::wire
