// Tests of the shared test helpers: reservePort() and TempDir.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "tests/support/ports.h"
#include "tests/support/temp_dir.h"

namespace quorate::testutil {
namespace {

namespace fs = std::filesystem;

// bind(127.0.0.1:port), with or without SO_REUSEADDR: 0 or the errno.
int bindLoopback(int fd, std::uint16_t port, bool reuseAddr) {
  const int one = 1;
  if (reuseAddr) ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  return ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 ? 0 : errno;
}

// What keeps the port away from port-0 binds and outgoing connections of other tests: a plain
// bind (no SO_REUSEADDR) is refused, as the kernel's own port search would be.
TEST(ReservePort, KeepsThePortFromPlainBinds) {
  const std::uint16_t port = reservePort();
  ASSERT_NE(port, 0);
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(bindLoopback(fd, port, /*reuseAddr=*/false), EADDRINUSE) << "port " << port;
  ::close(fd);
}

// A server (SO_REUSEADDR, as gRPC and the daemons bind) gets the port and is reachable on it.
TEST(ReservePort, AServerCanListenOnIt) {
  const std::uint16_t port = reservePort();
  const int server = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(bindLoopback(server, port, /*reuseAddr=*/true), 0) << "port " << port;
  ASSERT_EQ(::listen(server, 1), 0);
  const int client = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  EXPECT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ::close(client);
  ::close(server);
}

// Nobody listens on a reserved port until the test's server does.
TEST(ReservePort, NothingListensOnIt) {
  const std::uint16_t port = reservePort();
  const int client = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  EXPECT_NE(::connect(client, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  EXPECT_EQ(errno, ECONNREFUSED);
  ::close(client);
}

// Reservations made one after another never hand out the same port twice.
TEST(ReservePort, SuccessiveReservationsDiffer) {
  std::set<std::uint16_t> seen;
  for (int i = 0; i < 200; ++i) {
    const std::uint16_t port = reservePort();
    EXPECT_TRUE(seen.insert(port).second) << "port " << port << " handed out twice";
  }
  EXPECT_EQ(reserveLoopbackEndpoint().rfind("127.0.0.1:", 0), 0u);
}

TEST(TempDir, IsAFreshPrivateDirectoryRemovedWithItsContents) {
  std::string path;
  {
    TempDir dir("quorate-support");
    path = dir.path();
    ASSERT_TRUE(fs::is_directory(path));
    EXPECT_TRUE(fs::is_empty(path));
    EXPECT_EQ(fs::path(path).filename().string().rfind("quorate-support-", 0), 0u) << path;
    EXPECT_EQ(fs::status(path).permissions() & fs::perms::all, fs::perms::owner_all);
    fs::create_directories(dir.file("a/b"));
    EXPECT_EQ(dir.write("a/b/f", "x"), path + "/a/b/f");
    const std::string s = dir.script("s.sh", "exit 3");
    EXPECT_EQ(std::system(s.c_str()), 3 << 8);
  }
  EXPECT_FALSE(fs::exists(path)) << path << " left behind";
}

TEST(TempDir, TwoAreDistinctAndAMoveHandsOverTheRemoval) {
  TempDir a;
  std::string path;
  {
    TempDir b;
    EXPECT_NE(a.path(), b.path());
    path = b.path();
    TempDir c(std::move(b));
    EXPECT_EQ(c.path(), path);
    EXPECT_TRUE(b.path().empty());  // NOLINT(bugprone-use-after-move): the moved-from state.
  }
  EXPECT_FALSE(fs::exists(path));
  EXPECT_TRUE(fs::is_directory(a.path()));
}

TEST(TempDir, KeptDirectoriesStayAndParentsAreHonoured) {
  TempDir parent;
  std::string path;
  {
    TempDir child("kept", parent.path());
    path = child.path();
    EXPECT_EQ(fs::path(path).parent_path(), fs::path(parent.path()));
    child.keep();
  }
  EXPECT_TRUE(fs::is_directory(path));
}

TEST(TempDir, FailureIsAClearError) {
  // A parent that does not exist: mkdtemp fails, and the error names the path and the cause.
  try {
    const TempDir d("quorate-support", "/nonexistent-quorate-dir");
    ADD_FAILURE() << "made " << d.path();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-quorate-dir/quorate-support-"),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find(std::strerror(ENOENT)), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace quorate::testutil
