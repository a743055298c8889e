// Fuzz target: lease messages from the wire. The bytes are parsed as a PeerMessage and as an
// ExchangeRequest (what a peer service receives), then converted by fromProto and the membership
// check; a message fromProto accepts must survive toProto and fromProto unchanged.
#include <cstdint>
#include <string>

#include "common/convert.h"
#include "common/membership.h"
#include "fuzz_support.h"
#include "lease/types.h"
#include "quorate/v1/quorate.pb.h"

namespace {

void convert(const quorate::v1::PeerMessage& in) {
  using namespace quorate;
  const auto parsed = fromProto(in);
  if (!parsed) {
    fuzz::check(!parsed.status().what().empty(), "fromProto refused without saying why");
    return;
  }
  fuzz::check(parsed->from < lease::kNodeCount && parsed->to < lease::kNodeCount,
              "fromProto accepted a node id out of range");
  v1::PeerMessage again;
  toProto(*parsed, again);
  const auto back = fromProto(again);
  fuzz::check(back.isOk(), "fromProto refused what toProto made of an accepted message");
  fuzz::check(*back == *parsed, "a message changed through toProto and fromProto");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace quorate;
  v1::PeerMessage message;
  if (message.ParseFromArray(data, static_cast<int>(size))) convert(message);

  v1::ExchangeRequest request;
  if (request.ParseFromArray(data, static_cast<int>(size))) {
    convert(request.message());
    for (lease::NodeId id = 0; id < lease::kNodeCount; ++id) {
      if (const auto name = memberName(request.membership(), id)) {
        fuzz::check(!name->empty(), "memberName gave an empty name");
      }
    }
    (void)sameArbiter(request.membership(), request.membership());
    (void)oneLine(request.membership());
  }
  return 0;
}
