// The operator socket: its mode and group, the directory check, stale and live sockets, and the
// cap on connections handed to gRPC.
#include "server/grpc/operator_listener.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <thread>

#include "quorate/v1/quorate.grpc.pb.h"
#include "tests/common/config_test_util.h"
#include "tests/support/temp_dir.h"

namespace quorate::server {
namespace {

using namespace std::chrono_literals;
using testutil::waitFor;

int connectTo(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Whether the server closed `fd` (EOF) within `limit`; data (gRPC's settings frame) is read
// past.
bool closedByServer(int fd, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  char buf[4096];
  while (std::chrono::steady_clock::now() < until) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN)) return true;
  }
  return false;
}

class OperatorListenerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = tmp_.path() + "/run";
    path_ = dir_ + "/director.sock";
    grpc::ServerBuilder b;
    b.RegisterService(&service_);  // gRPC starts no server without a service
    server_ = b.BuildAndStart();
    ASSERT_TRUE(server_);
  }
  void TearDown() override { server_->Shutdown(); }

  testutil::TempDir tmp_{"quorate-oplisten"};
  std::string dir_;
  std::string path_;
  v1::Director::CallbackService service_;  // every method UNIMPLEMENTED: only connections count
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(OperatorListenerTest, SocketIs0600AndItsDirectoryIsMade) {
  UnixOperatorListener l(path_, std::nullopt, 4);
  ASSERT_TRUE(l.open().isOk());
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_uid, ::geteuid());
  l.start(server_.get());
  l.stop();
  EXPECT_FALSE(std::filesystem::exists(path_)) << "stop() leaves no socket file behind";
}

TEST_F(OperatorListenerTest, GroupMakesIt0660) {
  if (::geteuid() != 0) GTEST_SKIP() << "chown to another group needs root";
  UnixOperatorListener l(path_, gid_t{65534}, 4);
  ASSERT_TRUE(l.open().isOk());
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  EXPECT_EQ(st.st_gid, 65534u);
}

TEST_F(OperatorListenerTest, RefusesADirectoryOthersMayWrite) {
  std::filesystem::create_directories(dir_);
  ASSERT_EQ(::chmod(dir_.c_str(), 0777), 0);
  UnixOperatorListener l(path_, std::nullopt, 4);
  const Status st = l.open();
  ASSERT_FALSE(st.isOk());
  EXPECT_NE(st.message().find("writable by its group or others"), std::string::npos)
      << st.message();
  EXPECT_FALSE(std::filesystem::exists(path_));
}

TEST_F(OperatorListenerTest, StaleSocketIsReplacedALiveOneIsNot) {
  {
    UnixOperatorListener first(path_, std::nullopt, 4);
    ASSERT_TRUE(first.open().isOk());
    UnixOperatorListener second(path_, std::nullopt, 4);
    const Status st = second.open();
    ASSERT_FALSE(st.isOk());
    EXPECT_NE(st.message().find("another process listens"), std::string::npos) << st.message();
    // The live one still answers.
    const int fd = connectTo(path_);
    EXPECT_GE(fd, 0);
    if (fd >= 0) ::close(fd);
  }
  // A file left behind by a crash (a bound socket nobody listens on any more).
  const int stale = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path_.c_str(), sizeof a.sun_path - 1);
  ASSERT_EQ(::bind(stale, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ::close(stale);
  UnixOperatorListener third(path_, std::nullopt, 4);
  EXPECT_TRUE(third.open().isOk());
}

TEST_F(OperatorListenerTest, NotASocketIsLeftAlone) {
  std::filesystem::create_directories(dir_);
  ::close(::open(path_.c_str(), O_CREAT | O_WRONLY, 0600));
  UnixOperatorListener l(path_, std::nullopt, 4);
  EXPECT_FALSE(l.open().isOk());
  EXPECT_TRUE(std::filesystem::is_regular_file(path_));
}

TEST_F(OperatorListenerTest, ConnectionsBeyondTheCapAreClosedAndSlotsComeBack) {
  UnixOperatorListener l(path_, std::nullopt, 2);
  ASSERT_TRUE(l.open().isOk());
  l.start(server_.get());
  const int a = connectTo(path_);
  const int b = connectTo(path_);
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  ASSERT_TRUE(waitFor([&] { return l.openConnections() == 2; }, 5s));
  const int c = connectTo(path_);
  ASSERT_GE(c, 0);  // the kernel accepts into the backlog; the listener closes it
  EXPECT_TRUE(closedByServer(c, 5s));
  EXPECT_EQ(l.refused(), 1u);
  EXPECT_FALSE(closedByServer(a, 200ms)) << "a connection within the cap stays open";
  ::close(c);
  // gRPC closes its end when the client goes; the next accept finds the slot free.
  ::close(a);
  ASSERT_TRUE(waitFor([&] { return l.openConnections() == 1; }, 5s));
  const int d = connectTo(path_);
  ASSERT_GE(d, 0);
  EXPECT_FALSE(closedByServer(d, 300ms));
  EXPECT_EQ(l.refused(), 1u);
  ::close(b);
  ::close(d);
  l.stop();
}

TEST_F(OperatorListenerTest, UnknownPeersHaveNoCaller) {
  UnixOperatorListener l(path_, std::nullopt, 2);
  ASSERT_TRUE(l.open().isOk());
  EXPECT_FALSE(l.callerOf("ipv4:127.0.0.1:5000"));
  EXPECT_FALSE(l.callerOf("fd:"));
  EXPECT_FALSE(l.callerOf("fd:12x"));
  EXPECT_FALSE(l.callerOf("fd:0"));  // not a connection it accepted
}

}  // namespace
}  // namespace quorate::server
