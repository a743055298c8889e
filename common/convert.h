// Proto <-> domain conversion of lease messages, only at the RPC edge.
#pragma once

#include "common/status.h"
#include "lease/messages.h"
#include "quorate/v1/quorate.pb.h"

namespace quorate {

void toProto(const lease::Message& m, v1::PeerMessage& out);
// The message, or an error whose what() names the bad field ("accept.lease_us out of range").
Result<lease::Message> fromProto(const v1::PeerMessage& in);

}  // namespace quorate
