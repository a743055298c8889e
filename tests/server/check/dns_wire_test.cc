// The dns probe's wire format without sockets: the query's bytes, and replies judged from bytes,
// including short, lying and hostile ones (wrong id, truncation, huge counts, pointer loops).
#include "server/check/dns_wire.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace quorate::server::check {
namespace {

using Bytes = std::vector<std::uint8_t>;
constexpr std::uint16_t kId = 0xbeef;
constexpr std::uint16_t kA = 1;
constexpr std::uint16_t kSoa = 6;

void put16(Bytes& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v & 0xff));
}

// A reply header: QR set, `rcode`, the counts given.
Bytes header(std::uint16_t id, int rcode, std::uint16_t questions, std::uint16_t answers) {
  Bytes out;
  put16(out, id);
  put16(out, static_cast<std::uint16_t>(0x8180 | rcode));  // QR, RD, RA
  put16(out, questions);
  put16(out, answers);
  put16(out, 0);
  put16(out, 0);
  return out;
}

// The question "example.test" of `type`, class IN, at offset 12.
void question(Bytes& out, std::uint16_t type) {
  encodeDnsName("example.test", out);
  put16(out, type);
  put16(out, 1);
}

// An answer whose name is a pointer to `nameAt`, with `rdata` bytes.
void answer(Bytes& out, std::uint16_t type, const Bytes& rdata, std::uint16_t nameAt = 12) {
  put16(out, static_cast<std::uint16_t>(0xc000 | nameAt));
  put16(out, type);
  put16(out, 1);  // class IN
  put16(out, 0);  // TTL
  put16(out, 300);
  put16(out, static_cast<std::uint16_t>(rdata.size()));
  out.insert(out.end(), rdata.begin(), rdata.end());
}

// A well-formed reply to (kId, kA) with `answers` A records.
Bytes reply(int answers) {
  Bytes out = header(kId, 0, 1, static_cast<std::uint16_t>(answers));
  question(out, kA);
  for (int i = 0; i < answers; ++i) answer(out, kA, {198, 18, 0, static_cast<std::uint8_t>(i)});
  return out;
}

std::string judge(const Bytes& bytes, std::uint16_t type = kA, std::uint16_t id = kId) {
  const auto outcome = judgeDnsReply(bytes, id, type);
  if (!outcome) return "not ours";
  return (outcome->ok ? "ok: " : "fail: ") + outcome->reason;
}

TEST(DnsQueryTest, TheQueryIsTheHeaderAndOneQuestion) {
  DnsQuery query = makeDnsQuery("www.example.test.", 28);
  ASSERT_EQ(query.error, "");
  setDnsId(query.bytes, 0x1234);
  const Bytes expected = {0x12, 0x34, 0x01, 0x00, 0, 1,   0,   0,   0,   0,   0,   0,  // header, RD
                          3,    'w',  'w',  'w',  7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 4,
                          't',  'e',  's',  't',  0, 0,   28,  0,   1};  // AAAA, IN
  EXPECT_EQ(query.bytes, expected);
}

TEST(DnsQueryTest, TheRootIsOneZeroByte) {
  for (const char* root : {".", ""}) {
    const DnsQuery query = makeDnsQuery(root, kSoa);
    EXPECT_EQ(query.error, "");
    EXPECT_EQ(query.bytes, (Bytes{0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0, 1}));
  }
}

TEST(DnsQueryTest, BadNamesAreRefused) {
  EXPECT_EQ(makeDnsQuery("a..test", kA).error, "bad name: empty label");
  EXPECT_EQ(makeDnsQuery(".test", kA).error, "bad name: empty label");
  EXPECT_EQ(makeDnsQuery(std::string(64, 'a') + ".test", kA).error,
            "bad name: label longer than 63 bytes");
  EXPECT_EQ(makeDnsQuery(std::string(63, 'a'), kA).error, "");
  std::string name;
  for (int i = 0; i < 4; ++i) name += std::string(62, 'a') + ".";  // 4 x 63 + 1 = 253 bytes
  EXPECT_EQ(makeDnsQuery(name, kA).error, "");
  EXPECT_EQ(makeDnsQuery(name + "bb", kA).error, "bad name: longer than 255 bytes");
}

TEST(DnsReplyTest, AnswersOfTheTypeAreCounted) {
  EXPECT_EQ(judge(reply(1)), "ok: 1 answer");
  EXPECT_EQ(judge(reply(3)), "ok: 3 answers");
  EXPECT_EQ(judge(reply(0)), "fail: no answer of type 1");
  EXPECT_EQ(judge(reply(2), kSoa), "fail: no answer of type 6");
  EXPECT_EQ(judge(reply(2), 255), "ok: 2 answers");  // ANY takes every type
}

TEST(DnsReplyTest, OnlyMatchingAnswersCount) {
  Bytes out = header(kId, 0, 1, 3);
  question(out, kA);
  answer(out, 5, {0xc0, 12});  // a CNAME first
  answer(out, kA, {198, 18, 0, 1});
  answer(out, 28, Bytes(16, 0));
  EXPECT_EQ(judge(out), "ok: 1 answer");
}

TEST(DnsReplyTest, AnotherIdOrAShortDatagramIsNotOurs) {
  EXPECT_EQ(judge(reply(1), kA, kId + 1), "not ours");
  EXPECT_EQ(judge(Bytes{}), "not ours");
  EXPECT_EQ(judge(Bytes{0xbe}), "not ours");
  // Our id but no room for a header: ours, and malformed.
  EXPECT_EQ(judge(Bytes{0xbe, 0xef, 0x81}), "fail: malformed reply");
}

TEST(DnsReplyTest, RcodesFail) {
  Bytes out = reply(1);
  out[3] = static_cast<std::uint8_t>((out[3] & 0xf0) | 3);
  EXPECT_EQ(judge(out), "fail: rcode NXDOMAIN");
  out[3] = static_cast<std::uint8_t>((out[3] & 0xf0) | 2);
  EXPECT_EQ(judge(out), "fail: rcode SERVFAIL");
  out[3] = static_cast<std::uint8_t>((out[3] & 0xf0) | 9);
  EXPECT_EQ(judge(out), "fail: rcode 9");
}

TEST(DnsReplyTest, AQueryIsNotAReply) {
  Bytes out = reply(1);
  out[2] &= 0x7f;  // QR clear
  EXPECT_EQ(judge(out), "fail: malformed reply");
}

TEST(DnsReplyTest, EveryTruncationIsMalformed) {
  const Bytes whole = reply(2);
  // Cut anywhere from the header to the last byte: never an answer, never a read past the end
  // (the sanitizer build would see one).
  for (std::size_t size = 2; size < whole.size(); ++size) {
    const Bytes cut(whole.begin(), whole.begin() + static_cast<long>(size));
    const std::string got = judge(cut);
    // Cut just after the first answer, the header still promises a second one.
    EXPECT_EQ(got, "fail: malformed reply") << "cut at " << size;
  }
}

TEST(DnsReplyTest, ARecordLongerThanTheDatagramIsMalformed) {
  Bytes out = reply(1);
  out[out.size() - 5] = 5;  // RDLENGTH 4 -> 5: one byte past the end
  EXPECT_EQ(judge(out), "fail: malformed reply");
}

TEST(DnsReplyTest, HugeCountsRunOutOfBytes) {
  Bytes out = reply(1);
  out[6] = out[7] = 0xff;  // ANCOUNT 65535, one answer present
  EXPECT_EQ(judge(out), "fail: malformed reply");
  out = reply(1);
  out[4] = out[5] = 0xff;  // QDCOUNT 65535
  EXPECT_EQ(judge(out), "fail: malformed reply");
}

TEST(DnsReplyTest, CompressionPointersAreNeverFollowed) {
  // The answer's name points at itself, and the question's at the answer's: a resolver that
  // followed pointers would loop. Stepped over, the records still parse.
  Bytes out = header(kId, 0, 1, 1);
  const std::uint16_t answerAt = 12 + 2 + 4;
  put16(out, static_cast<std::uint16_t>(0xc000 | answerAt));  // question name: a pointer
  put16(out, kA);
  put16(out, 1);
  answer(out, kA, {198, 18, 0, 1}, answerAt);  // answer name: a pointer to itself
  EXPECT_EQ(judge(out), "ok: 1 answer");
  // A pointer cut in half is malformed.
  out = header(kId, 0, 1, 0);
  out.push_back(0xc0);
  EXPECT_EQ(judge(out), "fail: malformed reply");
}

TEST(DnsReplyTest, ObsoleteLabelTypesAreMalformed) {
  // 01xxxxxx (RFC 6891's extended labels) and 10xxxxxx are not lengths, even when as many bytes
  // as the "length" would say follow.
  for (const std::uint8_t type : {std::uint8_t{0x41}, std::uint8_t{0x80}}) {
    Bytes out = header(kId, 0, 1, 1);
    out.push_back(type);
    out.insert(out.end(), type, 'a');
    out.push_back(0);
    put16(out, kA);
    put16(out, 1);
    answer(out, kA, {198, 18, 0, 1});
    EXPECT_EQ(judge(out), "fail: malformed reply") << int{type};
  }
}

}  // namespace
}  // namespace quorate::server::check
