// A PeerClient torn down as soon as its last callback has run, as Daemon::stop does: gRPC must
// be done with the call (and with the channel) by then.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "common/peer_client.h"
#include "tests/support/ports.h"

namespace quorate {
namespace {

using namespace std::chrono_literals;

constexpr lease::Duration kDeadline = 2s;

// A peer that is gone (nothing listens: a SIGKILLed arbiter): each call fails, and its callback
// runs on one of gRPC's threads.
std::unique_ptr<PeerClient> clientOfDeadPeer(const std::string& endpoint,
                                             std::weak_ptr<grpc::Channel>* channel) {
  auto ch = makePeerChannel(endpoint);
  *channel = ch;
  return std::make_unique<PeerClient>(std::move(ch), "cluster", "key", "a", "a,b,arbiter",
                                      kDeadline);
}

lease::Message ping() { return lease::Message{lease::kDirectorA, lease::kArbiter, lease::Ping{}}; }

// Counts calls in flight like PeerTransport: idle once every callback has run.
class InFlight {
 public:
  void begin() {
    std::lock_guard lock(mu_);
    ++open_;
  }
  void end() {
    std::lock_guard lock(mu_);
    if (--open_ == 0) idle_.notify_all();
  }
  void waitIdle() {
    std::unique_lock lock(mu_);
    idle_.wait(lock, [this] { return open_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable idle_;
  int open_ = 0;
};

// When the callback runs, the call holds no reference to the channel any more: a caller that
// drops the client then (Daemon::stop after waitIdle) destroys the channel on its own thread.
// Were the call's ClientContext still alive, it would be the channel's last owner, and the
// channel (with gRPC's shared callback queue and its threads) would die on a gRPC thread in
// the callback's tail.
TEST(PeerClientTeardown, TheCallbackRunsOnceTheCallHasLetGoOfTheChannel) {
  std::weak_ptr<grpc::Channel> channel;
  auto client = clientOfDeadPeer(testutil::reserveLoopbackEndpoint(), &channel);
  InFlight calls;
  long ownersInCallback = -1;
  grpc::StatusCode code = grpc::StatusCode::OK;
  calls.begin();
  client->send(ping(), [&](const grpc::Status& s, std::vector<lease::Message>) {
    ownersInCallback = channel.use_count();
    code = s.error_code();
    calls.end();
  });
  calls.waitIdle();
  EXPECT_NE(code, grpc::StatusCode::OK);
  // The client's stub only.
  EXPECT_EQ(ownersInCallback, 1);
  client.reset();
  EXPECT_TRUE(channel.expired());
}

// The shutdown of the CI finding, made likely: the callbacks (gRPC's threads) are slow to
// return after saying they are done, and the client is dropped meanwhile. Under ASan the old
// order (the call freed after the callback) ends in a double free in gRPC's completion queue.
TEST(PeerClientTeardown, DroppingTheClientRightAfterTheLastCallbackIsSafe) {
  const std::string endpoint = testutil::reserveLoopbackEndpoint();
  for (int round = 0; round < 10; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::weak_ptr<grpc::Channel> channel;
    auto client = clientOfDeadPeer(endpoint, &channel);
    InFlight calls;
    for (int i = 0; i < 3; ++i) {
      calls.begin();
      client->send(ping(), [&calls](const grpc::Status&, std::vector<lease::Message>) {
        calls.end();
        // What a loaded machine does to the thread at this point: it runs again later.
        std::this_thread::sleep_for(20ms);
      });
    }
    calls.waitIdle();
    client.reset();
    EXPECT_TRUE(channel.expired());
    // Whoever holds the channel last, it goes before the next round's calls, so gRPC's shared
    // callback queue loses its last user each round, as at a director's exit.
    const auto limit = std::chrono::steady_clock::now() + 10s;
    while (!channel.expired() && std::chrono::steady_clock::now() < limit) {
      std::this_thread::sleep_for(1ms);
    }
    ASSERT_TRUE(channel.expired());
  }
}

}  // namespace
}  // namespace quorate
