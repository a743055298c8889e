// Whether this kernel has what the director's configuration needs (IPVS, nf_tables), asked the
// way the daemon itself asks: read-only questions over netlink, for `quorate-director --check`.
#pragma once

#include "common/status.h"

namespace quorate::kernel {

// Resolves the generic netlink family "IPVS" (no privilege needed, no module loaded): OK when this
// kernel has IPVS now; ENOENT when it has none loaded; another errno when it could not be asked.
Status probeIpvs();

// Asks nf_tables for its ruleset generation over nfnetlink: OK when nf_tables answers; EPERM
// without CAP_NET_ADMIN (nfnetlink answers nothing to others); EPROTONOSUPPORT, EINVAL or ENOENT
// when this kernel has no nfnetlink or no nf_tables.
Status probeNftables();

}  // namespace quorate::kernel
