// quorate-netns-soak: runs the randomized fault soak for --duration seconds and writes its report.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iostream>
#include <string>

#include "netns/soak.h"

namespace {

void usage(std::FILE* to) {
  std::fprintf(to,
               "usage: quorate-netns-soak [--duration SECONDS] [--seed N] [--kinds K1,K2,...]\n"
               "                          [--fence nftables|none] [--max-freeze MS]\n"
               "                          [--report FILE] [--quiet]\n"
               "Needs root. Exit status: 0 no split brain and a holder after the heal,\n"
               "1 a split-brain window, no holder after the heal, or a daemon that died by\n"
               "itself; 2 bad arguments or a failed set-up.\n"
               "Kinds: partition kill freeze link-flap arbiter-restart wiped-restart\n"
               "       old-state-restart reload timer-change (default: all)\n");
}

long long number(const std::string& flag, const std::string& text, long long lo, long long hi) {
  std::size_t used = 0;
  long long v = 0;
  try {
    v = std::stoll(text, &used, 10);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || text.empty() || v < lo || v > hi) {
    throw std::invalid_argument(flag + " wants a whole number from " + std::to_string(lo) + " to " +
                                std::to_string(hi) + ", not \"" + text + "\"");
  }
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace quorate::netns;
  SoakOptions opts;
  std::string reportPath;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (a == "--help" || a == "-h") {
        usage(stdout);
        return 0;
      }
      if (a == "--quiet") {
        opts.printTimeline = false;
        continue;
      }
      if (i + 1 >= argc) throw std::invalid_argument(a + " wants a value");
      const std::string v = argv[++i];
      if (a == "--duration") {
        opts.duration = Ms(number(a, v, 1, 7 * 24 * 3600) * 1000);
      } else if (a == "--seed") {
        opts.seed = static_cast<std::uint64_t>(number(a, v, 1, (1LL << 62)));
      } else if (a == "--kinds") {
        opts.kinds = parseFaultKinds(v);
      } else if (a == "--fence") {
        if (v != "nftables" && v != "none")
          throw std::invalid_argument("--fence: nftables or none");
        opts.fence = v;
      } else if (a == "--max-freeze") {
        opts.maxFreeze = Ms(number(a, v, 700, 60'000));
      } else if (a == "--report") {
        reportPath = v;
      } else {
        throw std::invalid_argument("unknown option " + a);
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "quorate-netns-soak: %s\n", e.what());
    usage(stderr);
    return 2;
  }
  try {
    const SoakReport r = runSoak(opts);
    const std::string text = r.markdown(true);
    std::cout << "\n" << r.markdown(false);
    if (!reportPath.empty()) {
      std::ofstream f(reportPath);
      f << text;
      if (!f) {
        std::fprintf(stderr, "quorate-netns-soak: cannot write %s\n", reportPath.c_str());
        return 2;
      }
    }
    const bool bad = r.splitBrainWindows() > 0 || !r.healToHolderNs || !r.unexpectedExits.empty();
    return bad ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "quorate-netns-soak: %s\n", e.what());
    return 2;
  }
}
