// IPVS over generic netlink: libnl-genl resolves the "IPVS" family; requests are the byte
// values of ipvs_messages.h, sent and acknowledged on the socket directly so that a batch of
// changes is pipelined (many requests per sendmsg, one ack each) rather than one round trip
// per change.
#include <fcntl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
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

extern char** environ;

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

namespace quorate::kernel::ipvs {
namespace {

constexpr std::size_t kBatch = 256;               // requests per sendmsg
constexpr int kReceiveBuffer = 8 << 20;           // room for a batch's acks
constexpr int kReplyTimeoutMs = 5000;             // a kernel that does not answer is a failure
constexpr std::size_t kReceiveChunk = 256 << 10;  // one recv

class NetlinkIpvs final : public Ipvs {
 public:
  ~NetlinkIpvs() override { close(); }

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
      std::vector<std::uint32_t> seqs(n);
      std::vector<std::uint8_t> batch;
      for (std::size_t i = 0; i < n; ++i) {
        auto h = header();
        seqs[i] = h.seq;
        auto m = msg::encode(h, ops[first + i]);
        batch.insert(batch.end(), m.begin(), m.end());
      }
      std::vector<int> errs(n, -1);  // -1: no ack yet
      if (auto s = sendAndCollectAcks(batch, seqs, errs); !s) return s;
      for (std::size_t i = 0; i < n; ++i) {
        const Op& op = ops[first + i];
        int err = errs[i];
        if (err != 0 && tolerant) err = retryTolerant(op, err);
        if (err != 0) results[first + i] = Status::fail(err, op.toString());
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

  msg::Header header() { return {familyId_, ++seq_}; }

  Status connect(const std::string& what) {
    if (sk_ != nullptr) return Status::ok();
    nl_sock* sk = nl_socket_alloc();
    if (sk == nullptr) return Status::fail(ENOMEM, what + ": netlink socket");
    if (int rc = genl_connect(sk); rc < 0) {
      nl_socket_free(sk);
      return Status::fail(EIO, what + ": generic netlink connect: " + nl_geterror(rc));
    }
    int id = genl_ctrl_resolve(sk, "IPVS");
    if (id < 0 && !modprobeTried_) {
      // As ipvsadm and keepalived do: the module may just not be loaded yet.
      modprobeTried_ = true;
      if (loadModule()) id = genl_ctrl_resolve(sk, "IPVS");
    }
    if (id < 0) {
      nl_socket_free(sk);
      return Status::fail(ENOENT, what +
                                      ": no IPVS in this kernel (generic netlink family "
                                      "\"IPVS\" not found, and modprobe ip_vs did not help)");
    }
    int fd = nl_socket_get_fd(sk);
    int size = kReceiveBuffer;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0) {
      (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    }
    int one = 1;  // acks of failures carry the header only, not the whole request
    (void)setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
    sk_ = sk;
    familyId_ = static_cast<std::uint16_t>(id);
    buffer_.resize(kReceiveChunk);
    return Status::ok();
  }

  void close() {
    if (sk_ != nullptr) nl_socket_free(sk_);
    sk_ = nullptr;
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

  // Drops the socket after a transport failure: unread replies may still sit in it.
  Status broken(int err, const std::string& what) {
    close();
    return Status::fail(err, what);
  }

  Status sendAll(const std::vector<std::uint8_t>& bytes, const std::string& what) {
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    ssize_t n = ::sendto(nl_socket_get_fd(sk_), bytes.data(), bytes.size(), 0,
                         reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
    if (n < 0) return broken(errno, what + ": send");
    if (static_cast<std::size_t>(n) != bytes.size()) return broken(EMSGSIZE, what + ": short send");
    return Status::ok();
  }

  // One recv (waiting up to the reply timeout): the bytes received, or a failure.
  Result<std::size_t> receive(const std::string& what) {
    int fd = nl_socket_get_fd(sk_);
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, kReplyTimeoutMs);
    if (r == 0) return broken(ETIMEDOUT, what + ": no reply from the kernel");
    if (r < 0) return broken(errno, what + ": poll");
    ssize_t n = ::recv(fd, buffer_.data(), buffer_.size(), 0);
    if (n < 0) return broken(errno, what + ": receive");  // ENOBUFS: acks were lost
    return static_cast<std::size_t>(n);
  }

  // A request and its replies: each data message goes to `onMessage` (its attributes), until
  // the ack or the end of the dump. The kernel's error comes back as the status.
  Status exchange(const std::vector<std::uint8_t>& request, const std::string& what,
                  const OnMessage& onMessage) {
    std::uint32_t seq = seq_;
    if (auto s = sendAll(request, what); !s) return s;
    Status result;
    for (;;) {
      auto got = receive(what);
      if (!got) return got.status();
      int len = static_cast<int>(*got);
      for (auto* h = reinterpret_cast<nlmsghdr*>(buffer_.data()); NLMSG_OK(h, len);
           h = NLMSG_NEXT(h, len)) {
        if (h->nlmsg_seq != seq) continue;  // late reply of an abandoned request
        if (h->nlmsg_type == NLMSG_DONE) return result;
        if (h->nlmsg_type == NLMSG_ERROR) {
          const auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
          if (e->error != 0) return Status::fail(e->error, what);
          return result;
        }
        if (h->nlmsg_type != familyId_ || h->nlmsg_len < NLMSG_LENGTH(GENL_HDRLEN)) continue;
        if (!onMessage || !result) continue;
        const auto* base = static_cast<const std::uint8_t*>(NLMSG_DATA(h)) + GENL_HDRLEN;
        std::size_t n = h->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);
        result = onMessage({base, n});  // keeps reading to the end of the dump
        if (!(h->nlmsg_flags & NLM_F_MULTI)) return result;
      }
    }
  }

  // Sends a batch and reads one ack per request into `errs` (by sequence number).
  Status sendAndCollectAcks(const std::vector<std::uint8_t>& batch,
                            const std::vector<std::uint32_t>& seqs, std::vector<int>& errs) {
    const std::string what = "change IPVS";
    if (auto s = sendAll(batch, what); !s) return s;
    std::size_t pending = seqs.size();
    const std::uint32_t first = seqs.front();
    while (pending > 0) {
      auto got = receive(what);
      if (!got) return got.status();
      int len = static_cast<int>(*got);
      for (auto* h = reinterpret_cast<nlmsghdr*>(buffer_.data()); NLMSG_OK(h, len);
           h = NLMSG_NEXT(h, len)) {
        if (h->nlmsg_type != NLMSG_ERROR) continue;
        std::uint32_t i = h->nlmsg_seq - first;
        if (i >= seqs.size() || errs[i] != -1) continue;
        const auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
        errs[i] = e->error < 0 ? -e->error : e->error;
        --pending;
      }
    }
    return Status::ok();
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

  nl_sock* sk_ = nullptr;
  bool modprobeTried_ = false;
  std::uint16_t familyId_ = 0;
  std::uint32_t seq_ = 0;
  std::vector<std::uint8_t> buffer_;
};

}  // namespace

std::unique_ptr<Ipvs> makeNetlinkIpvs() { return std::make_unique<NetlinkIpvs>(); }

}  // namespace quorate::kernel::ipvs
