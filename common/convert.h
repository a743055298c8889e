// Proto <-> domain conversion of lease messages, only at the RPC edge.
#pragma once

#include <optional>
#include <string>

#include "lease/messages.h"
#include "quorate/v1/quorate.pb.h"

namespace quorate {

void toProto(const lease::Message& m, v1::PeerMessage& out);
// Returns an error naming the bad field, or nullopt with `out` filled.
std::optional<std::string> fromProto(const v1::PeerMessage& in, lease::Message& out);

}  // namespace quorate
