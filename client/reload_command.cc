// quoratectl reload: asks the director to re-read its file and prints what it applied or why not.
#include <nlohmann/json.hpp>

#include "client/commands.h"
#include "client/format.h"

namespace quorate::client {

int runReload(DirectorClient& client, bool json, std::ostream& out, std::ostream& err,
              const CallCanceller* canceller) {
  quorate::v1::ReloadReply reply;
  const grpc::Status status = client.reload(&reply);
  if (!status.ok()) {
    if (canceller != nullptr && canceller->cancelled()) {
      err << "quoratectl: interrupted" << std::endl;
      return kExitInterrupted;
    }
    err << formatRpcError(client.target(), status) << std::endl;
    return kExitFailure;
  }
  if (json) {
    nlohmann::json j = {{"applied", reply.applied()},
                        {"summary", reply.summary()},
                        {"refused", nlohmann::json::array()},
                        {"changes", nlohmann::json::array()}};
    for (const auto& r : reply.refused()) j["refused"].push_back(r);
    for (const auto& c : reply.changes()) j["changes"].push_back(c);
    out << j.dump() << std::endl;
  } else if (reply.applied()) {
    out << (reply.changes().empty() ? "reload applied: no change" : "reload applied:") << "\n";
    for (const auto& c : reply.changes()) out << "  " << c << "\n";
    out << std::flush;
  } else {
    // Refused: the reasons go where errors go, so a script sees them with the exit status.
    err << "reload refused, the director's running configuration is unchanged:\n";
    for (const auto& r : reply.refused()) err << "  " << r << "\n";
    err << std::flush;
  }
  return reply.applied() ? kExitOk : kExitFailure;
}

}  // namespace quorate::client
