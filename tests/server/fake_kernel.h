// Recording fakes of the kernel ports, for the logic above them (data plane, director). Every
// call lands in one journal, so tests can assert the order of operations across ports.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "server/dataplane.h"
#include "server/kernel/packets.h"
#include "tests/server/ipvs/fake_ipvs.h"

namespace quorate::server::testing {

struct FakeKernel {
  std::vector<std::string> journal;  // "fence.arm 198.18.0.10 600ms", "vips.add ...", ...
  std::map<std::string, std::vector<net::Vip>> addresses;  // device -> addresses
  std::vector<std::pair<int, kernel::Frame>> frames;
  std::optional<int> failNextErrno;        // the next call of any port fails with this errno
  std::optional<std::string> failAddress;  // every vips.add of this address fails
  std::atomic<int> failFenceClose{0};      // nonzero: every fence.close fails with this errno
  std::set<std::string> failCalls;         // these journal entries fail (EBUSY), every time
  // The next fence.update takes its addresses, then fails with this errno: NftFence's second
  // transaction (copying a lease's gate to a new chain) failing after the first committed.
  std::optional<int> fenceUpdateFailsAfterCommit;
  std::map<std::string, kernel::LinkInfo> links;
  // Runs after each journalled call succeeds or fails, with its journal entry: lets a test
  // move a clock at an exact point (a stall right after that call).
  std::function<void(const std::string&)> after;

  Status maybeFail(const std::string& what) {
    journal.push_back(what);
    auto s = Status::ok();
    if (failNextErrno) {
      s = Status::fail(*failNextErrno, what);
      failNextErrno.reset();
    }
    if (failCalls.contains(what)) s = Status::fail(EBUSY, what);
    if (after) after(what);
    return s;
  }

  struct Vips : kernel::Vips {
    FakeKernel& k;
    explicit Vips(FakeKernel& kk) : k(kk) {}
    Status add(const net::Vip& v, std::optional<std::chrono::seconds>) override {
      if (k.failAddress == v.prefix.address.toString()) {
        k.journal.push_back("vips.add " + v.prefix.address.toString() + " (fails)");
        return Status::fail(EADDRNOTAVAIL, "add " + v.toString());
      }
      auto s = k.maybeFail("vips.add " + v.prefix.address.toString());
      if (s) {
        auto& list = k.addresses[v.device];
        if (std::find(list.begin(), list.end(), v) == list.end()) list.push_back(v);
      }
      return s;
    }
    Status remove(const net::Vip& v) override {
      auto s = k.maybeFail("vips.remove " + v.prefix.address.toString());
      if (s) std::erase(k.addresses[v.device], v);
      return s;
    }
    Result<std::vector<net::Vip>> list(const std::string& device) override {
      return k.addresses[device];
    }
  };
  struct Fence : kernel::Fence {
    FakeKernel& k;
    explicit Fence(FakeKernel& kk) : k(kk) {}
    static std::string join(const std::vector<net::IpAddress>& a) {
      std::string s;
      for (const auto& x : a) s += " " + x.toString();
      return s;
    }
    std::vector<std::vector<net::IpAddress>> groups;
    std::string group(std::size_t i) const { return i < groups.size() ? join(groups[i]) : " ?"; }
    Status install(const std::vector<std::vector<net::IpAddress>>& g) override {
      groups = g;
      std::vector<net::IpAddress> all;
      for (const auto& x : g) all.insert(all.end(), x.begin(), x.end());
      return k.maybeFail("fence.install" + join(all));
    }
    Status arm(std::size_t i, std::chrono::milliseconds remaining,
               std::chrono::nanoseconds realtimeDeadline) override {
      k.lastArm = remaining;
      k.lastArmDeadline = realtimeDeadline;
      return k.maybeFail("fence.arm" + group(i));
    }
    Status close(std::size_t i) override {
      if (const int e = k.failFenceClose.load()) {
        k.journal.push_back("fence.close" + group(i) + " (fails)");
        return Status::fail(e, "close");
      }
      return k.maybeFail("fence.close" + group(i));
    }
    Status update(std::size_t i, const std::vector<net::IpAddress>& a) override {
      auto s = k.maybeFail("fence.update " + std::to_string(i) + join(a));
      if (s && i < groups.size()) groups[i] = a;
      if (s && k.fenceUpdateFailsAfterCommit) {
        s = Status::fail(*k.fenceUpdateFailsAfterCommit, "copying the gate");
        k.fenceUpdateFailsAfterCommit.reset();
      }
      if (s && i == groups.size()) groups.push_back(a);  // a lease added by a reload
      return s;
    }
    Status release(const std::vector<net::IpAddress>& a) override {
      return k.maybeFail("fence.release" + join(a));
    }
    Status uninstall() override { return k.maybeFail("fence.uninstall"); }
  };
  struct Links : kernel::Links {
    FakeKernel& k;
    explicit Links(FakeKernel& kk) : k(kk) {}
    Result<kernel::LinkInfo> get(const std::string& name) override {
      auto it = k.links.find(name);
      if (it == k.links.end()) return Status::fail(ENODEV, "link " + name);
      return it->second;
    }
    Status ensureMacvlan(const std::string& name, const std::string& parent,
                         const net::MacAddress& mac) override {
      auto s = k.maybeFail("links.macvlan " + name + " on " + parent + " " + net::toString(mac));
      if (s) {
        kernel::LinkInfo l;
        l.name = name;
        l.index = 100 + static_cast<int>(k.links.size());
        l.mac = mac;
        l.adminUp = l.running = true;
        k.links[name] = l;
      }
      return s;
    }
    Status removeLink(const std::string& name) override {
      return k.maybeFail("links.remove " + name);
    }
    Status setIpv4Conf(const std::string& device, const std::string& key,
                       const std::string& value) override {
      return k.maybeFail("sysctl " + device + "." + key + "=" + value);
    }
  };
  struct Announcer : kernel::Announcer {
    FakeKernel& k;
    explicit Announcer(FakeKernel& kk) : k(kk) {}
    Status send(int ifindex, const std::vector<std::uint8_t>& frame) override {
      auto s = k.maybeFail("announce " + std::to_string(ifindex));
      if (s) k.frames.emplace_back(ifindex, frame);
      return s;
    }
  };

  // IPVS in memory (kernel semantics), each change journalled as "ipvs.<op>".
  struct Ipvs : ipvs::testing::FakeIpvs {
    FakeKernel& k;
    explicit Ipvs(FakeKernel& kk) : k(kk) {}
    Result<std::vector<Status>> apply(const std::vector<kernel::ipvs::Op>& list,
                                      bool tolerant) override {
      for (const auto& op : list) k.journal.push_back("ipvs." + op.toString());
      return FakeIpvs::apply(list, tolerant);
    }
    Status startSyncDaemon(const kernel::ipvs::SyncDaemon& d) override {
      k.journal.push_back(d.role == kernel::ipvs::SyncRole::Master ? "ipvs.sync master"
                                                                   : "ipvs.sync backup");
      return FakeIpvs::startSyncDaemon(d);
    }
  };

  std::optional<std::chrono::milliseconds> lastArm;
  std::optional<std::chrono::nanoseconds> lastArmDeadline;  // CLOCK_REALTIME ns
  Vips vips{*this};
  Fence fence{*this};
  Links linkPort{*this};
  Announcer announcer{*this};
  Ipvs ipvsPort{*this};

  FakeKernel() {
    kernel::LinkInfo eth;
    eth.name = "eth0";
    eth.index = 7;
    eth.mac = {2, 0, 0, 0, 0, 1};
    eth.adminUp = eth.running = true;
    links["eth0"] = eth;
  }
  KernelPorts ports(bool withFence = true) {
    return KernelPorts{&vips, withFence ? &fence : nullptr, &linkPort, &announcer, &ipvsPort};
  }
  // Journal entries starting with `prefix`.
  std::vector<std::string> calls(const std::string& prefix) const {
    std::vector<std::string> out;
    for (const auto& j : journal) {
      if (j.rfind(prefix, 0) == 0) out.push_back(j);
    }
    return out;
  }
};

}  // namespace quorate::server::testing
