// spdlog set-up shared by the daemons.
#pragma once

#include <optional>
#include <string>

namespace quorate {

// Configures the default logger ("name" as the logger name). Returns an error
// for an unknown level name.
std::optional<std::string> setupLogging(const std::string& name, const std::string& level);

}  // namespace quorate
