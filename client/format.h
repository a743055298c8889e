// Pure rendering for quoratectl: replies to JSON and to human text, gRPC codes to names.
#pragma once

#include <grpcpp/support/status.h>

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "quorate/v1/quorate.pb.h"

namespace quorate::client {

// The JSON shape documented in docs/status-json.md: empty holder/preferred (top level and
// per lease) and a last_seen_ms of -1 (never) become null; "healthy" is null when the
// reply has no leases (a director from before leases and health were reported).
nlohmann::json statusToJson(const quorate::v1::StatusReply& reply);

// One watch update: statusToJson plus "elapsed_ms", monotonic since the watch began.
nlohmann::json watchUpdateToJson(const quorate::v1::StatusReply& reply,
                                 std::chrono::milliseconds elapsed);

// {"released_epoch": N, "handed_to": "beta" | null, "leases": ["web", ...]}
nlohmann::json stepDownToJson(const quorate::v1::StepDownReply& reply);

// A VIP as the director reports it ("198.18.0.10/24 dev eth0 label eth0:web") in the
// compact form of the lease table ("198.18.0.10/24@eth0"); unchanged if it has no device.
std::string compactVip(std::string_view vip);

// The multi-line human view of `quoratectl status`, ending with a newline. Adds a health
// line when the reply reports leases, and a lease table when there are several leases or
// any VIPs.
std::string formatStatus(const quorate::v1::StatusReply& reply);

// One line (no newline) per watch update, led by the monotonic time since the watch began.
std::string formatWatchLine(const quorate::v1::StatusReply& reply,
                            std::chrono::milliseconds elapsed);

// "released edge (epoch 4), handed to beta"; with several leases the epoch is that of the
// first (the only one the reply carries): "released web (epoch 4) and gw, handed to beta".
// A reply without lease names: "released epoch 7, handed to beta". No newline.
std::string formatStepDown(const quorate::v1::StepDownReply& reply);

// "UNAVAILABLE", "FAILED_PRECONDITION", ...; "CODE_<n>" for numbers gRPC does not define.
std::string statusCodeName(grpc::StatusCode code);
// The same for a code as a number, any number: a value outside the enum's range (a hostile or
// newer server's) must not be cast to grpc::StatusCode first, which is undefined (UBSan).
std::string statusCodeName(int code);

// "quoratectl: 127.0.0.1:7101: UNAVAILABLE: <message>" (no newline).
std::string formatRpcError(std::string_view endpoint, const grpc::Status& status);

}  // namespace quorate::client
