// The smtp probe's reply parsing without sockets: single and multi-line replies, bare LF and
// CRLF, partial input, and lines that are not replies.
#include "server/check/smtp_reply.h"

#include <gtest/gtest.h>

#include <string>

namespace quorate::server::check {
namespace {

using State = SmtpScan::State;

TEST(SmtpLineTest, CodesAndContinuation) {
  EXPECT_EQ(parseSmtpLine("220 mail.test ESMTP"), (SmtpLine{220, true}));
  EXPECT_EQ(parseSmtpLine("250-PIPELINING\r"), (SmtpLine{250, false}));
  EXPECT_EQ(parseSmtpLine("250"), (SmtpLine{250, true}));
  EXPECT_EQ(parseSmtpLine("250\r"), (SmtpLine{250, true}));
  EXPECT_EQ(parseSmtpLine("554 no"), (SmtpLine{554, true}));
}

TEST(SmtpLineTest, NotAReplyLine) {
  for (const char* line :
       {"", "\r", "25", "2x0 hi", "250x", "250:ok", " 250 ok", "HELLO", "-250"}) {
    EXPECT_FALSE(parseSmtpLine(line).has_value()) << line;
  }
}

TEST(SmtpScanTest, ASingleLineReply) {
  const std::string input = "220 mail.test ESMTP\r\nleft over";
  const SmtpScan scan = scanSmtpReply(input);
  EXPECT_EQ(scan.state, State::kComplete);
  EXPECT_EQ(scan.code, 220);
  EXPECT_EQ(input.substr(scan.consumed), "left over");  // the next reply's bytes stay
}

TEST(SmtpScanTest, AMultiLineReplyEndsAtItsLastLine) {
  const std::string input = "250-mail.test\r\n250-SIZE 1000\n250 HELP\r\n221 bye\r\n";
  const SmtpScan scan = scanSmtpReply(input);
  EXPECT_EQ(scan.state, State::kComplete);
  EXPECT_EQ(scan.code, 250);
  EXPECT_EQ(input.substr(scan.consumed), "221 bye\r\n");
}

TEST(SmtpScanTest, TheLastLineGivesTheCode) {
  const SmtpScan scan = scanSmtpReply("220-greetings\r\n554 go away\r\n");
  EXPECT_EQ(scan.state, State::kComplete);
  EXPECT_EQ(scan.code, 554);
}

TEST(SmtpScanTest, PartialInputIsIncomplete) {
  EXPECT_EQ(scanSmtpReply("").state, State::kIncomplete);
  EXPECT_EQ(scanSmtpReply("220 mail.te").state, State::kIncomplete);
  // Continuation lines so far are consumed; the partial last line is not.
  const std::string input = "250-one\r\n250-two\r\n250 th";
  const SmtpScan scan = scanSmtpReply(input);
  EXPECT_EQ(scan.state, State::kIncomplete);
  EXPECT_EQ(input.substr(scan.consumed), "250 th");
  // Fed the rest after dropping what was consumed, it completes.
  const SmtpScan rest = scanSmtpReply(input.substr(scan.consumed) + "ree\r\n");
  EXPECT_EQ(rest.state, State::kComplete);
  EXPECT_EQ(rest.code, 250);
}

TEST(SmtpScanTest, ABadLineAnywhereIsBad) {
  EXPECT_EQ(scanSmtpReply("hello there\r\n").state, State::kBad);
  EXPECT_EQ(scanSmtpReply("\r\n").state, State::kBad);
  EXPECT_EQ(scanSmtpReply("220-ok\r\nnonsense\r\n220 ok\r\n").state, State::kBad);
  EXPECT_EQ(scanSmtpReply(std::string("220\0 ok\r\n", 9)).state, State::kBad);
}

}  // namespace
}  // namespace quorate::server::check
