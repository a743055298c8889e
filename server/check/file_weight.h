// FILE_CHECK's file judged: its content as a pure function, and the bounded read behind it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "server/check/probe.h"

namespace quorate::server::check {

// A weight file holds a number and a newline, perhaps; anything longer is refused unread.
constexpr std::size_t kMaxWeightFile = 4096;
// The largest weight IPVS takes from a check (server/ipvs/pool.h).
constexpr int kMaxCheckWeight = 65535;

// The content of a weight file, surrounding spaces and newlines ignored: a number 1..65535
// passes with that weight ("weight 5"); "0" fails ("weight 0"), as do an empty file ("empty
// file"), a number above 65535 ("weight 70000 above 65535") and anything else ("not a
// weight: \"abc\"").
Outcome judgeWeightFile(std::string_view content);

// Reads `path` and judges it. A missing file fails ("no file /path"), as do one that is not a
// regular file, one larger than kMaxWeightFile and one that cannot be read (with the reason).
Outcome readWeightFile(const std::string& path);

}  // namespace quorate::server::check
