// The limit on open files. A director checking many real servers holds a socket per check
// (server/check/net_probes.cc), more than the usual soft limit of 1,024 allows.
#pragma once

#include <sys/resource.h>

#include "common/status.h"

namespace quorate {

// Raises this process's soft limit on open files to its hard limit and stores the limit now in
// effect in `now`. Returns why it could not, naming the limits.
Status raiseOpenFileLimit(rlim_t* now);

}  // namespace quorate
