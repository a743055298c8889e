// spdlog set-up shared by the daemons.
#pragma once

#include <string>

#include "common/status.h"

namespace quorate {

// Configures the default logger ("name" as the logger name). Returns an error
// for an unknown level name.
Status setupLogging(const std::string& name, const std::string& level);

}  // namespace quorate
