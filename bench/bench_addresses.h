// The real-server addresses of the health-check benchmark, shared by quorate-check-targets and
// quorate-check-bench so that both count them alike: from a first address upwards, skipping host
// bytes .0 and .255, all inside the block that holds the first one - 127.0.0.0/8 (loopback, no
// configuration needed) or 198.18.0.0/15 (the benchmark network, served through a local route).
#pragma once

#include <arpa/inet.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace quorate::bench {

// `count` IPv4 addresses in host byte order; throws naming the problem for a bad `base` or a
// block that runs out.
inline std::vector<std::uint32_t> benchAddresses(const std::string& base, int count) {
  in_addr a{};
  if (inet_pton(AF_INET, base.c_str(), &a) != 1) {
    throw std::runtime_error("bad --base " + base + ": not an IPv4 address");
  }
  std::uint32_t ip = ntohl(a.s_addr);
  struct Block {
    std::uint32_t network, mask;
    const char* name;
  };
  static constexpr Block kBlocks[] = {{0x7f000000u, 0xff000000u, "127.0.0.0/8"},
                                      {0xc6120000u, 0xfffe0000u, "198.18.0.0/15"}};
  const Block* block = nullptr;
  for (const Block& b : kBlocks) {
    if ((ip & b.mask) == b.network) block = &b;
  }
  if (block == nullptr) {
    throw std::runtime_error("bad --base " + base + ": not in 127.0.0.0/8 or 198.18.0.0/15");
  }
  std::vector<std::uint32_t> out;
  out.reserve(static_cast<std::size_t>(count));
  while (static_cast<int>(out.size()) < count) {
    if ((ip & block->mask) != block->network) {
      throw std::runtime_error(std::string("addresses run out of ") + block->name);
    }
    const std::uint32_t host = ip & 0xff;
    if (host != 0 && host != 255) out.push_back(ip);
    ++ip;
  }
  return out;
}

}  // namespace quorate::bench
