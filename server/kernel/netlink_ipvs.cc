// IPVS over generic netlink: requests are the byte values of ipvs_messages.h, sent on a
// netlink::Channel so that a batch of changes is pipelined (many requests per sendmsg, one ack
// each) rather than one round trip per change.
#include <fcntl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "server/kernel/ipvs.h"
#include "server/kernel/ipvs_messages.h"
#include "server/kernel/netlink_channel.h"

extern char** environ;

namespace quorate::kernel::ipvs {
namespace {

constexpr std::size_t kBatch = 256;  // requests per sendmsg

netlink::ChannelOptions channelOptions() {
  netlink::ChannelOptions o;
  o.receiveBuffer = 8 << 20;                         // room for a batch's acks
  o.receiveChunk = 256 << 10;                        // one recv: the largest dump datagram
  o.replyTimeout = std::chrono::milliseconds(5000);  // a kernel that does not answer is a failure
  o.closeOnTransportFailure = true;                  // the next request reconnects
  return o;
}

class NetlinkIpvs final : public Ipvs {
 public:
  NetlinkIpvs() : sock_(NETLINK_GENERIC, channelOptions()) {}

  Result<Info> info() override {
    if (auto s = connect("IPVS info"); !s) return s;
    Result<Info> out = Status::fail(EPROTO, "IPVS info: no reply");
    auto s = exchange(msg::getInfo(header()), "IPVS info", [&](std::span<const std::uint8_t> a) {
      out = msg::parseInfo(a);
      return out.status();
    });
    if (!s) return s;
    return out;
  }

  Result<std::vector<ServiceState>> dump() override {
    if (auto s = connect("read IPVS services"); !s) return s;
    std::vector<ServiceState> services;
    auto s = exchange(msg::getServices(header()), "read IPVS services",
                      [&](std::span<const std::uint8_t> a) {
                        auto svc = msg::parseService(a);
                        if (!svc) return svc.status();
                        services.push_back(std::move(svc).value());
                        return Status::ok();
                      });
    if (!s) return s;
    for (auto& svc : services) {
      const std::string what = "read destinations of " + svc.service.key.toString();
      auto d = exchange(msg::getDestinations(header(), svc.service.key), what,
                        [&](std::span<const std::uint8_t> a) {
                          auto dest = msg::parseDestination(a, svc.service.key.family);
                          if (!dest) return dest.status();
                          svc.destinations.push_back(std::move(dest).value());
                          return Status::ok();
                        });
      // A service deleted between the two reads is simply gone.
      if (!d && d.err() != ESRCH) return d;
    }
    return services;
  }

  Result<std::vector<Status>> apply(const std::vector<Op>& ops, bool tolerant) override {
    if (auto s = connect("change IPVS"); !s) return s;
    std::vector<Status> results(ops.size());
    for (std::size_t first = 0; first < ops.size(); first += kBatch) {
      std::size_t n = std::min(kBatch, ops.size() - first);
      const std::uint32_t seq = sock_.reserve(static_cast<std::uint32_t>(n));
      std::vector<std::uint8_t> batch;
      for (std::size_t i = 0; i < n; ++i) {
        auto m = msg::encode({familyId_, seq + static_cast<std::uint32_t>(i)}, ops[first + i]);
        batch.insert(batch.end(), m.begin(), m.end());
      }
      auto acks = sock_.sendBatch(batch, seq, n, netlink::Acks::Eventually, "change IPVS");
      if (!acks) return acks.status();
      for (std::size_t i = 0; i < n; ++i) {
        const Op& op = ops[first + i];
        int err = acks->errors()[i];
        if (err != 0 && tolerant) err = retryTolerant(op, err);
        if (err != 0) {
          // The kernel's reason text is the batch attempt's: kept when the errno is still its.
          const bool asSent = err == acks->errors()[i];
          results[first + i] =
              Status::fail(err, netlink::withReason(op.toString(), asSent ? acks->reason(i) : ""));
        }
      }
    }
    return results;
  }

  Result<std::vector<SyncDaemon>> syncDaemons() override {
    if (auto s = connect("read IPVS sync daemons"); !s) return s;
    std::vector<SyncDaemon> out;
    auto s = exchange(msg::getDaemons(header()), "read IPVS sync daemons",
                      [&](std::span<const std::uint8_t> a) {
                        auto d = msg::parseDaemon(a);
                        if (!d) return d.status();
                        out.push_back(std::move(d).value());
                        return Status::ok();
                      });
    if (!s) return s;
    return out;
  }

  Status startSyncDaemon(const SyncDaemon& d) override {
    std::string what = std::string("start IPVS sync daemon (") +
                       (d.role == SyncRole::Master ? "master" : "backup") + " on " + d.interface +
                       ", sync id " + std::to_string(d.syncId) + ")";
    if (auto s = connect(what); !s) return s;
    return exchange(msg::newDaemon(header(), d), what, nullptr);
  }

  Status stopSyncDaemon(SyncRole role) override {
    std::string what = std::string("stop IPVS sync daemon (") +
                       (role == SyncRole::Master ? "master" : "backup") + ")";
    if (auto s = connect(what); !s) return s;
    return exchange(msg::delDaemon(header(), role), what, nullptr);
  }

 private:
  using OnMessage = std::function<Status(std::span<const std::uint8_t>)>;

  msg::Header header() { return {familyId_, sock_.reserve()}; }

  Status connect(const std::string& what) {
    if (sock_.isOpen()) return Status::ok();
    if (auto s = sock_.open(what); !s) return s;
    auto id = netlink::resolveGenlFamily(sock_, "IPVS");
    if (!id && id.status().err() == ENOENT && !modprobeTried_) {
      // As ipvsadm and keepalived do: the module may just not be loaded yet.
      modprobeTried_ = true;
      if (loadModule()) id = netlink::resolveGenlFamily(sock_, "IPVS");
    }
    if (!id) {
      sock_.close();
      if (id.status().err() != ENOENT)
        return id.status().withWhat(what + ": " + id.status().what());
      return Status::fail(ENOENT, what +
                                      ": no IPVS in this kernel (generic netlink family "
                                      "\"IPVS\" not found, and modprobe ip_vs did not help)");
    }
    familyId_ = *id;
    return Status::ok();
  }

  // `modprobe ip_vs` (no shell; output discarded); true when it exited 0.
  static bool loadModule() {
    for (const char* path : {"/usr/sbin/modprobe", "/sbin/modprobe"}) {
      if (::access(path, X_OK) != 0) continue;
      posix_spawn_file_actions_t fa;
      posix_spawn_file_actions_init(&fa);
      posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
      posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
      char* const argv[] = {const_cast<char*>(path), const_cast<char*>("ip_vs"), nullptr};
      pid_t pid = 0;
      int rc = posix_spawn(&pid, path, &fa, nullptr, argv, environ);
      posix_spawn_file_actions_destroy(&fa);
      if (rc != 0) return false;
      int status = 0;
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      return WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    return false;
  }

  // A request and its replies: each data message of the IPVS family goes to `onMessage` (its
  // attributes), until the ack or the end of the dump. The kernel's error comes back as the
  // status.
  Status exchange(const std::vector<std::uint8_t>& request, const std::string& what,
                  const OnMessage& onMessage) {
    std::uint32_t seq = 0;
    std::memcpy(&seq, request.data() + offsetof(nlmsghdr, nlmsg_seq), sizeof seq);
    return sock_.exchange(request, seq, what, [&](const netlink::Message& m) {
      if (m.header.nlmsg_type != familyId_ || m.payload.size() < GENL_HDRLEN) return Status::ok();
      if (!onMessage) return Status::ok();
      return onMessage(m.payload.subspan(GENL_HDRLEN));
    });
  }

  // Idempotence: an add of what exists becomes an edit, an edit of what is missing becomes an
  // add, and a delete of what is missing succeeded. Returns the final errno (0: done).
  int retryTolerant(const Op& op, int err) {
    using K = Op::Kind;
    auto again = [&](K kind) {
      Op o = op;
      o.kind = kind;
      auto s = exchange(msg::encode(header(), o), o.toString(), nullptr);
      return s.err();
    };
    bool missing = err == ESRCH || err == ENOENT;
    switch (op.kind) {
      case K::AddService:
        return err == EEXIST ? again(K::EditService) : err;
      case K::AddDestination:
        return err == EEXIST ? again(K::EditDestination) : err;
      case K::EditService:
        return missing ? again(K::AddService) : err;
      case K::EditDestination:
        // ESRCH: the service itself is missing; adding the destination cannot help.
        return err == ENOENT ? again(K::AddDestination) : err;
      case K::DeleteService:
      case K::DeleteDestination:
        return missing ? 0 : err;
    }
    return err;
  }

  netlink::Channel sock_;
  bool modprobeTried_ = false;
  std::uint16_t familyId_ = 0;
};

}  // namespace

std::unique_ptr<Ipvs> makeNetlinkIpvs() { return std::make_unique<NetlinkIpvs>(); }

}  // namespace quorate::kernel::ipvs
