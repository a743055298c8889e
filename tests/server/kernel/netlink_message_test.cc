// The netlink layer: the message builder against golden bytes (laid out by hand from
// <linux/netlink.h> and <linux/genetlink.h>), the attribute and message parsers on malformed
// input, ack matching across the sequence wrap, and the channel against the kernel's generic
// netlink controller (no root: only family lookups, no network traffic).
#include "server/kernel/netlink_message.h"

#include <gtest/gtest.h>
#include <linux/genetlink.h>

#include <cerrno>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "server/kernel/netlink_channel.h"

namespace quorate::kernel::netlink {
namespace {

struct FamilyHeader {
  std::uint8_t a, b;
  std::uint16_t c;
};

TEST(NetlinkMessage, BuilderGoldenBytes) {
  MessageBuilder b;
  b.begin(0x1234, NLM_F_REQUEST | NLM_F_ACK, 0xa0b0c0d0, FamilyHeader{7, 8, 0x0102});
  b.u8(1, 0xee);      // one byte, three of padding
  b.be16(2, 0x0050);  // network order
  const auto outer = b.nest(NLA_F_NESTED | 3);
  b.u32(4, 0x11223344);  // host order
  const auto inner = b.nest(5);
  b.string(6, "ab");
  b.endNest(inner);
  b.endNest(outer);
  b.be64(7, 1);
  b.end();
  // clang-format off
  const Bytes want = {
      // nlmsghdr {len 72 = 16 + 4 + 8 + 8 + 24 + 12, type 0x1234, flags 0x0005, seq 0xa0b0c0d0}
      0x48, 0x00, 0x00, 0x00, 0x34, 0x12, 0x05, 0x00, 0xd0, 0xc0, 0xb0, 0xa0, 0, 0, 0, 0,
      // the family header, as given
      0x07, 0x08, 0x02, 0x01,
      // u8: {len 5, type 1} 0xee + 3 bytes of padding
      0x05, 0x00, 0x01, 0x00, 0xee, 0, 0, 0,
      // be16: {len 6, type 2} 0x00 0x50 + 2 of padding
      0x06, 0x00, 0x02, 0x00, 0x00, 0x50, 0, 0,
      // nest {len 4 + 8 + 12, type 3 | NLA_F_NESTED}
      0x18, 0x00, 0x03, 0x80,
      //   u32 {len 8, type 4}, little-endian
      0x08, 0x00, 0x04, 0x00, 0x44, 0x33, 0x22, 0x11,
      //   nest {len 12, type 5, no flag}: string {len 7, type 6} "ab\0" + 1 of padding
      0x0c, 0x00, 0x05, 0x00, 0x07, 0x00, 0x06, 0x00, 'a', 'b', 0, 0,
      // be64 {len 12, type 7}
      0x0c, 0x00, 0x07, 0x00, 0, 0, 0, 0, 0, 0, 0, 1,
  };
  // clang-format on
  EXPECT_EQ(b.bytes(), want);
  EXPECT_TRUE(b.ok());
  EXPECT_EQ(b.messages(), 1u);
}

TEST(NetlinkMessage, ABatchIsMessagesBackToBack) {
  MessageBuilder b;
  for (std::uint32_t seq : {0xffffffffu, 0u}) {
    b.begin(0x10, NLM_F_REQUEST, seq, FamilyHeader{0, 0, 0});
    b.end();
  }
  const Bytes want = {0x14, 0, 0, 0, 0x10, 0, 0x01, 0, 0xff, 0xff, 0xff, 0xff, 0,    0,
                      0,    0, 0, 0, 0,    0, 0x14, 0, 0,    0,    0x10, 0,    0x01, 0,
                      0,    0, 0, 0, 0,    0, 0,    0, 0,    0,    0,    0};
  EXPECT_EQ(b.bytes(), want);
  EXPECT_EQ(b.messages(), 2u);
}

TEST(NetlinkMessage, AnAttributeTooLongForItsLengthFieldMarksTheMessageBad) {
  MessageBuilder b;
  b.begin(0x10, NLM_F_REQUEST, 1, FamilyHeader{});
  b.string(1, std::string(65531, 'x'));  // 4 + 65532 > 65535
  b.end();
  EXPECT_FALSE(b.ok());
  MessageBuilder fits;
  fits.begin(0x10, NLM_F_REQUEST, 1, FamilyHeader{});
  fits.string(1, std::string(65530, 'x'));
  fits.end();
  EXPECT_TRUE(fits.ok());
}

TEST(NetlinkMessage, AttributesIndexByTypeAndSurviveMalformedInput) {
  const Bytes good = {
      0x08, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00,  // type 1 = 1
      0x08, 0x00, 0x01, 0x80, 0x02, 0x00, 0x00, 0x00,  // type 1 again (flag masked): the last wins
      0x07, 0x00, 0x02, 0x00, 'h',  'i',  0x00, 0x00,  // type 2 = "hi"
      0x08, 0x00, 0x09, 0x00, 0x09, 0x00, 0x00, 0x00,  // type 9: above max, skipped
  };
  auto a = Attributes::parse(good, 3);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->get<std::uint32_t>(1), 2u);
  EXPECT_EQ(a->string(2), "hi");
  EXPECT_FALSE(a->has(3));
  EXPECT_FALSE(a->has(9));
  EXPECT_FALSE(a->get<std::uint64_t>(1)) << "shorter than the type asked for";

  Bytes overrun = good;
  overrun[0] = 0x40;  // longer than what is left
  EXPECT_FALSE(Attributes::parse(overrun, 3));
  Bytes tooShort = good;
  tooShort[0] = 0x02;  // shorter than its own header
  EXPECT_FALSE(Attributes::parse(tooShort, 3));
  EXPECT_TRUE(Attributes::parse({}, 3));
}

Bytes ack(std::uint32_t seq, std::int32_t error) {
  MessageBuilder b;
  nlmsgerr e{};
  e.error = error;
  e.msg.nlmsg_seq = seq;
  b.begin(NLMSG_ERROR, 0, seq, e);
  b.end();
  return std::move(b).take();
}

TEST(NetlinkMessage, MessagesOfADatagramStopAtAMalformedHeader) {
  Bytes d = ack(1, 0);
  const Bytes second = ack(2, -ENOENT);
  d.insert(d.end(), second.begin(), second.end());
  std::vector<int> errs;
  EXPECT_TRUE(forEachMessage(d, [&](const Message& m) {
    errs.push_back(*ackError(m));
    return true;
  }));
  EXPECT_EQ(errs, (std::vector<int>{0, ENOENT}));

  d[d.size() - second.size()] = 0xff;  // the second claims more than the datagram holds
  errs.clear();
  EXPECT_FALSE(forEachMessage(d, [&](const Message& m) {
    errs.push_back(*ackError(m));
    return true;
  }));
  EXPECT_EQ(errs, (std::vector<int>{0}));
}

TEST(NetlinkMessage, AcksMatchRequestsAcrossTheSequenceWrap) {
  // Requests 0xfffffffe, 0xffffffff, 0, 1.
  AckTable t(0xfffffffeu, 4);
  Bytes d;
  for (const auto& [seq, err] : std::vector<std::pair<std::uint32_t, int>>{
           {0xfffffffdu, -EIO},  // an abandoned request's: not ours
           {0u, -EEXIST},
           {0xfffffffeu, 0},
           {2u, -EIO},  // beyond the batch
           {0u, 0},     // a second ack of one request: the first stands
       }) {
    const Bytes a = ack(seq, err);
    d.insert(d.end(), a.begin(), a.end());
  }
  t.record(d);
  EXPECT_EQ(t.errors(), (std::vector<int>{0, AckTable::kNoAck, EEXIST, AckTable::kNoAck}));
  EXPECT_EQ(t.pending(), 2u);
  EXPECT_EQ(t.failures(), 1u);
  EXPECT_EQ(t.firstFailure(), 2u);
  t.record(ack(0xffffffffu, 0));
  t.record(ack(1u, -ENOENT));
  EXPECT_TRUE(t.complete());
  EXPECT_EQ(t.failures(), 2u);
}

TEST(NetlinkMessage, AQuietHeadIsRecordedButNotWaitedFor) {
  AckTable t(100, 3, /*quietHead=*/1);
  t.record(ack(101, 0));
  EXPECT_FALSE(t.complete());
  t.record(ack(102, 0));
  EXPECT_TRUE(t.complete()) << "the batch header is acked only when it fails";
  t.record(ack(100, -ENOMEM));
  EXPECT_EQ(t.errors()[0], ENOMEM);
}

TEST(NetlinkMessage, GenlGetFamilyGoldenBytes) {
  const Bytes want = {
      // nlmsghdr {len 32, type GENL_ID_CTRL (0x10), flags REQUEST, seq 9}
      0x20, 0x00, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00, 0x09, 0x00, 0x00, 0x00, 0, 0, 0, 0,
      // genlmsghdr {cmd CTRL_CMD_GETFAMILY (3), version 1}
      0x03, 0x01, 0x00, 0x00,
      // CTRL_ATTR_FAMILY_NAME (2) "IPVS\0": len 9, padded to 12
      0x09, 0x00, 0x02, 0x00, 'I', 'P', 'V', 'S', 0x00, 0x00, 0x00, 0x00};
  EXPECT_EQ(genl::getFamily(9, "IPVS"), want);
  const Bytes reply = {0x06, 0x00, 0x01, 0x00, 0x1c, 0x00, 0x00, 0x00};  // CTRL_ATTR_FAMILY_ID 0x1c
  EXPECT_EQ(genl::familyIdOf(reply), 0x1c);
  EXPECT_FALSE(genl::familyIdOf(Bytes{0x06, 0x00}));
}

// The channel against the real kernel: the controller knows itself as "nlctrl" (GENL_ID_CTRL).
TEST(NetlinkChannel, ResolvesAGenericNetlinkFamily) {
  Channel c(NETLINK_GENERIC);
  auto id = resolveGenlFamily(c, "nlctrl");
  ASSERT_TRUE(id.isOk()) << id.status().message();
  EXPECT_EQ(*id, GENL_ID_CTRL);
  auto none = resolveGenlFamily(c, "quorate-none");
  EXPECT_EQ(none.status().err(), ENOENT) << none.status().message();
}

// A batch whose sequence numbers straddle 2^32 gets each ack to its own request: one lookup that
// succeeds (0) and one that fails (ENOENT), at 0xffffffff and 0.
TEST(NetlinkChannel, BatchAcksAcrossTheSequenceWrap) {
  Channel c(NETLINK_GENERIC);
  ASSERT_TRUE(c.open("test").isOk());
  Bytes batch;
  for (const auto& [seq, name] : std::vector<std::pair<std::uint32_t, const char*>>{
           {0xffffffffu, "nlctrl"}, {0u, "quorate-none"}}) {
    MessageBuilder b;
    genlmsghdr g{};
    g.cmd = CTRL_CMD_GETFAMILY;
    g.version = 1;
    b.begin(GENL_ID_CTRL, NLM_F_REQUEST | NLM_F_ACK, seq, g);
    b.string(CTRL_ATTR_FAMILY_NAME, name);
    b.end();
    batch.insert(batch.end(), b.bytes().begin(), b.bytes().end());
  }
  auto acks = c.sendBatch(batch, 0xffffffffu, 2, Acks::Eventually, "lookups");
  ASSERT_TRUE(acks.isOk()) << acks.status().message();
  EXPECT_EQ(acks->errors(), (std::vector<int>{0, ENOENT}));
}

// An error ack with NETLINK_EXT_ACK's TLVs after it, as laid out in <linux/netlink.h>: nlmsghdr
// {NLMSG_ERROR, flags NLM_F_ACK_TLVS (0x200) | NLM_F_CAPPED (0x100) when only the request's
// header is echoed}, struct nlmsgerr, the echoed request's payload unless capped, then
// NLMSGERR_ATTR_MSG (1) "why\0".
Bytes errorWithReason(bool capped) {
  Bytes b = {0, 0, 0, 0, 0x02, 0x00, 0x00, 0x00, 0x07, 0, 0, 0, 0, 0, 0, 0, 0xea, 0xff, 0xff,
             0xff,  // error -22 (EINVAL)
             // the request's header: {len 24, type 0x10, flags 1, seq 7, pid 0}
             0x18, 0, 0, 0, 0x10, 0, 0x01, 0, 0x07, 0, 0, 0, 0, 0, 0, 0};
  b[7] = capped ? 0x03 : 0x02;
  if (!capped) b.insert(b.end(), {1, 2, 3, 4, 5, 6, 7, 8});  // the request's 8 payload bytes
  b.insert(b.end(), {0x08, 0x00, 0x01, 0x00, 'w', 'h', 'y', 0});
  b[0] = static_cast<std::uint8_t>(b.size());
  return b;
}

TEST(NetlinkMessage, TheKernelsReasonIsReadFromAnExtendedAck) {
  for (bool capped : {true, false}) {
    const Bytes d = errorWithReason(capped);
    std::string why;
    std::optional<int> err;
    forEachMessage(d, [&](const Message& m) {
      err = ackError(m);
      why = extackMessage(m);
      return true;
    });
    EXPECT_EQ(err, EINVAL);
    EXPECT_EQ(why, "why") << (capped ? "capped" : "whole request echoed");

    AckTable t(7, 1);
    t.record(d);
    EXPECT_EQ(t.reason(0), "why");
  }
  Bytes noFlag = errorWithReason(true);
  noFlag[7] = 0x01;  // CAPPED without ACK_TLVS: no TLVs to read
  forEachMessage(noFlag, [](const Message& m) {
    EXPECT_EQ(extackMessage(m), "");
    return true;
  });
  Bytes overrun = errorWithReason(true);
  overrun[overrun.size() - 8] = 0x40;  // the TLV claims more than there is
  forEachMessage(overrun, [](const Message& m) {
    EXPECT_EQ(extackMessage(m), "");
    return true;
  });
  EXPECT_EQ(withReason("add x", ""), "add x");
  EXPECT_EQ(withReason("add x", "why"), "add x [kernel: why]");
}

// The kernel's policy check refuses a family id of the wrong size (EINVAL or ERANGE, by kernel
// version), and says why.
TEST(NetlinkChannel, KernelErrorsCarryTheKernelsReason) {
  Channel c(NETLINK_GENERIC);
  ASSERT_TRUE(c.open("test").isOk());
  MessageBuilder b;
  genlmsghdr g{};
  g.cmd = CTRL_CMD_GETFAMILY;
  g.version = 1;
  const std::uint32_t seq = c.reserve();
  b.begin(GENL_ID_CTRL, NLM_F_REQUEST, seq, g);
  b.u8(CTRL_ATTR_FAMILY_ID, 1);  // a u16 in the kernel's policy
  b.end();
  const Status s = c.exchange(b.bytes(), seq, "malformed lookup", nullptr);
  EXPECT_TRUE(s.err() == EINVAL || s.err() == ERANGE) << s.message();
  EXPECT_NE(s.what().find("malformed lookup [kernel: "), std::string::npos) << s.message();
}

// A reply left in the socket by an abandoned request (another sequence number) is not taken for
// the answer to the next one.
TEST(NetlinkChannel, ALateReplyOfAnAbandonedRequestIsSkipped) {
  Channel c(NETLINK_GENERIC);
  ASSERT_TRUE(c.open("test").isOk());
  // Sent, never read: its ENOENT stays queued (an empty batch waits for no ack).
  const Bytes abandoned = genl::getFamily(1000, "quorate-none");
  ASSERT_TRUE(c.sendBatch(abandoned, 1000, 0, Acks::Queued, "abandoned").isOk());
  auto id = resolveGenlFamily(c, "nlctrl");
  ASSERT_TRUE(id.isOk()) << id.status().message();
  EXPECT_EQ(*id, GENL_ID_CTRL);
}

}  // namespace
}  // namespace quorate::kernel::netlink
