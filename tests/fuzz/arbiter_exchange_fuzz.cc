// Fuzz target: the arbiter's Exchange handler, called directly (no network) with a sequence of
// requests parsed from the input, on a fresh service and state directory per input. Besides
// crashes and sanitizer reports it checks what the handler promises: a refusal carries no
// message, a reply goes from the arbiter to the sender, and an epoch or lease is on disk before
// a reply grants it, and the epoch on disk never goes back.
//
// Input: records of [flags][length: 2 bytes, little endian][ExchangeRequest bytes]. Flags bit 0
// puts the right cluster in and seals with its key (so inputs get past authentication), bit 1 the cluster's
// membership view and the sender's name, bit 2 the lease "web" instead of the request's; bits
// 3..7 advance the arbiter's clock by that many 100 ms steps before the request.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "arbiter/arbiter_service.h"
#include "common/convert.h"
#include "common/peer_auth.h"
#include "common/membership.h"
#include "common/peer_client.h"
#include "common/state_file.h"
#include "fuzz_support.h"
#include "lease/types.h"

namespace {

using namespace quorate;
using namespace std::chrono_literals;

constexpr const char* kCluster = "lb";
constexpr const char* kSecret = "fuzz-secret-0123456789";
constexpr lease::Duration kQuarantine = 1800ms;
constexpr std::size_t kMaxRequests = 16;

const std::string& view() {
  static const std::string text = membershipText(
      kCluster, {Member{"alpha", "198.18.0.1:7101"}, Member{"beta", "198.18.0.2:7101"},
                 Member{"arbiter", "198.18.0.3:7100"}});
  return text;
}

std::string statePath(const std::string& dir, const std::string& lease) {
  return lease == kDefaultLease ? dir + "/" + kCluster + ".state"
                                : dir + "/" + kCluster + "@" + lease + ".state";
}

// The state on disk of `lease`, all zero when it has none yet.
lease::DurableState onDisk(const std::string& dir, const std::string& lease) {
  const auto loaded = StateFile(statePath(dir, lease)).load();
  if (!loaded) fuzz::fail("the arbiter left an unreadable state file: " + loaded.status().what());
  return *loaded;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string scratch = fuzz::scratchDirectory("arbiter-exchange");
  static std::uint64_t runs = 0;
  const std::string dir = scratch + "/" + std::to_string(runs++);
  std::filesystem::create_directory(dir);

  {
    arbiter::ArbiterConfig config;
    config.stateDir = dir;
    config.quarantine = kQuarantine;
    config.clusters = {{kCluster, {kSecret}, {}}, {"other", {"other-secret-0123456789"}, {}}};
    lease::Time now = lease::Time(100s);
    arbiter::ArbiterService service(config, now);
    std::uint64_t lastEpoch = 0;

    std::size_t at = 0;
    for (std::size_t n = 0; n < kMaxRequests && at + 3 <= size; ++n) {
      const std::uint8_t flags = data[at];
      const std::size_t length = std::min<std::size_t>(
          size - at - 3, static_cast<std::size_t>(data[at + 1] | (data[at + 2] << 8)));
      const std::uint8_t* payload = data + at + 3;
      at += 3 + length;

      v1::ExchangeRequest request;
      if (!request.ParseFromArray(payload, static_cast<int>(length))) continue;
      if (flags & 1) request.set_cluster(kCluster);
      if (flags & 2) {
        request.set_membership(view());
        request.set_from_name(request.message().from() == 1 ? "beta" : "alpha");
      }
      if (flags & 4) request.set_lease("web");
      now += (flags >> 3) * 100ms;

      // Bit 0 also seals the request with the cluster's key (as a director does); without it the
      // bytes go as they are, and only the refusals are reached.
      const v1::ExchangeRequest wire =
          (flags & 1) ? sealRequest(request, kSecret, nextCounter()) : request;
      v1::ExchangeReply sealed;
      grpc::Status status = service.handle(now, wire, sealed);
      v1::ExchangeReply reply;
      if (status.ok()) {
        const grpc::Status opened = openReply(sealed, kSecret, wire.auth().mac(), reply);
        fuzz::check(opened.ok(), "an answer that does not open under the request's key");
      } else {
        fuzz::check(sealed.body().empty() && sealed.mac().empty(), "a refusal carried a body");
      }
      // QUORATE_FUZZ_VERBOSE=1: what each request came to (to check that seeds go deep).
      static const bool verbose = std::getenv("QUORATE_FUZZ_VERBOSE") != nullptr;
      if (verbose) {
        std::string body;
        for (const auto& m : reply.messages()) {
          const auto parsed = fromProto(m);
          body += std::string(" ") + (parsed ? lease::bodyName(parsed->body) : "(malformed)");
        }
        std::fprintf(stderr, "request %zu: status %d %s;%s\n", n,
                     static_cast<int>(status.error_code()), status.error_message().c_str(),
                     body.c_str());
      }
      if (!status.ok()) {
        fuzz::check(reply.messages_size() == 0, "a refused request got a lease message");
        continue;
      }
      const auto in = fromProto(request.message());
      fuzz::check(in.isOk(), "the handler answered a message fromProto refuses");
      const std::string lease = leaseOf(request);
      // QUORATE_FUZZ_MUTANT=unpersisted: the broken variant the checks below must catch, an
      // arbiter that answers without its state on disk (the file is taken away after the step).
      static const bool unpersisted =
          std::getenv("QUORATE_FUZZ_MUTANT") != nullptr &&
          std::string(std::getenv("QUORATE_FUZZ_MUTANT")) == "unpersisted";
      if (unpersisted) std::filesystem::remove(statePath(dir, lease));
      const lease::DurableState disk = onDisk(dir, lease);
      if (lease == kDefaultLease) {
        fuzz::check(disk.maxEpoch >= lastEpoch, "the epoch on disk went back");
        lastEpoch = disk.maxEpoch;
      }
      for (const auto& m : reply.messages()) {
        const auto out = fromProto(m);
        fuzz::check(out.isOk(), "the arbiter sent a message fromProto refuses");
        fuzz::check(out->from == lease::kArbiter && out->to == in->from,
                    "a reply not from the arbiter to the sender");
        if (const auto* accepted = std::get_if<lease::Accepted>(&out->body)) {
          fuzz::check(accepted->epoch <= disk.maxEpoch, "an accepted epoch above the one on disk");
          const auto* asked = std::get_if<lease::Accept>(&in->body);
          fuzz::check(asked != nullptr, "an Accepted answer to something else than an Accept");
          const lease::Accept& accept = *asked;
          fuzz::check(accept.lease <= kQuarantine, "a lease longer than the quarantine granted");
          fuzz::check(disk.maxLease >= accept.lease, "a lease granted before it was on disk");
        }
      }
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}
