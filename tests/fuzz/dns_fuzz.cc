// Fuzz target: the dns probe's judgement of a datagram (judgeDnsReply), for the query id and type
// taken from the input's first 4 bytes.
#include <cstdint>
#include <span>

#include "fuzz_support.h"
#include "server/check/dns_wire.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace quorate;
  if (size < 4) return 0;
  const std::uint16_t id = static_cast<std::uint16_t>(data[0] << 8 | data[1]);
  const std::uint16_t type = static_cast<std::uint16_t>(data[2] << 8 | data[3]);
  const std::span<const std::uint8_t> reply(data + 4, size - 4);
  if (const auto outcome = server::check::judgeDnsReply(reply, id, type)) {
    fuzz::check(!outcome->reason.empty(), "a DNS outcome without a reason");
    // Only a datagram that holds the query's id can be judged a reply at all.
    fuzz::check(reply.size() >= 2 && (reply[0] << 8 | reply[1]) == id,
                "a datagram judged that is not for the query");
  }
  return 0;
}
