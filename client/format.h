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

// The JSON shape documented in docs/status-json.md: empty holder/preferred and a
// last_seen_ms of -1 (never) become null.
nlohmann::json statusToJson(const quorate::v1::StatusReply& reply);

// One watch update: statusToJson plus "elapsed_ms", monotonic since the watch began.
nlohmann::json watchUpdateToJson(const quorate::v1::StatusReply& reply,
                                 std::chrono::milliseconds elapsed);

// {"released_epoch": N, "handed_to": "beta" | null}
nlohmann::json stepDownToJson(const quorate::v1::StepDownReply& reply);

// The multi-line human view of `quoratectl status`, ending with a newline.
std::string formatStatus(const quorate::v1::StatusReply& reply);

// One line (no newline) per watch update, led by the monotonic time since the watch began.
std::string formatWatchLine(const quorate::v1::StatusReply& reply,
                            std::chrono::milliseconds elapsed);

// "released epoch 7, handed to beta" (no newline).
std::string formatStepDown(const quorate::v1::StepDownReply& reply);

// "UNAVAILABLE", "FAILED_PRECONDITION", ...; "CODE_<n>" for numbers gRPC does not define.
std::string statusCodeName(grpc::StatusCode code);

// "quoratectl: 127.0.0.1:7101: UNAVAILABLE: <message>" (no newline).
std::string formatRpcError(std::string_view endpoint, const grpc::Status& status);

}  // namespace quorate::client
