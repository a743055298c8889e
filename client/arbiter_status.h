// quoratectl status against an arbiter's operator socket: the call, and its rendering (pure).
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>

#include "client/director_client.h"
#include "client/interrupt.h"
#include "quorate/v1/quorate.pb.h"

namespace quorate::client {

// {"arbiter": true, "clusters": [{"id", "leases": [{"name", "holder" | null, "epoch",
//  "remaining_ms", "quarantine"}], "contacts": [{"node", "age_ms"}]}], "reloads",
//  "reload_failures"}
nlohmann::json arbiterStatusToJson(const quorate::v1::ArbiterStatusReply& reply);

// One table row per lease of each cluster, then one line per cluster with the directors heard
// from; ends with a newline.
std::string formatArbiterStatus(const quorate::v1::ArbiterStatusReply& reply);

// `quoratectl status` at an endpoint whose director Status call was UNIMPLEMENTED: asks for the
// arbiter's status there; prints it (or one JSON object) to `out`, or to `err` why not, also when
// that call is UNIMPLEMENTED too (neither kind of node serves that endpoint). Exit status as
// runStatus's.
int runArbiterStatus(DirectorClient& client, bool json, std::ostream& out, std::ostream& err,
                     const CallCanceller* canceller);

}  // namespace quorate::client
