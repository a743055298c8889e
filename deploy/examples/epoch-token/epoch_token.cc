// epoch-token: does this director hold the lease, and under which epoch (the fencing token)?
#include <pthread.h>
#include <quorate/client.h>
#include <signal.h>

#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>

namespace {

constexpr int kExitHeld = 0;     // without --watch: the director holds the lease
constexpr int kExitFailure = 1;  // the director could not be asked, or has no such lease
constexpr int kExitUsage = 2;    // bad command line
constexpr int kExitNotHeld = 3;  // without --watch: another director holds it, or nobody
constexpr int kExitInterrupted = 130;

struct Args {
  std::string director;
  std::string lease;
  bool watch = false;
  std::uint64_t count = 0;  // --watch: stop after this many lines; 0: never
  long timeoutMs = 2000;
};

void usage(std::ostream& out) {
  out << "usage: epoch-token --director HOST:PORT --lease NAME [--watch [--count N]]"
         " [--timeout-ms MS]\n"
         "Prints whether the director holds the lease, the holder and the epoch, as\n"
         "  lease=NAME director=NODE held=yes|no holder=NODE|- epoch=N remaining_ms=MS\n"
         "With --watch, one such line now and one at each change of holder or epoch.\n"
         "Exit status without --watch: 0 held, 3 not held, 1 error, 2 usage.\n";
}

bool parseNumber(std::string_view text, long& out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size() && out > 0;
}

std::optional<Args> parseArgs(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const bool hasValue = i + 1 < argc;
    long number = 0;
    if (arg == "--director" && hasValue) {
      args.director = argv[++i];
    } else if (arg == "--lease" && hasValue) {
      args.lease = argv[++i];
    } else if (arg == "--watch") {
      args.watch = true;
    } else if (arg == "--count" && hasValue && parseNumber(argv[i + 1], number)) {
      args.count = static_cast<std::uint64_t>(number);
      ++i;
    } else if (arg == "--timeout-ms" && hasValue && parseNumber(argv[i + 1], number)) {
      args.timeoutMs = number;
      ++i;
    } else if (arg == "--help" || arg == "-h") {
      usage(std::cout);
      std::exit(0);
    } else {
      std::cerr << "epoch-token: bad argument \"" << arg << "\"\n";
      return std::nullopt;
    }
  }
  if (args.director.empty() || args.lease.empty()) {
    std::cerr << "epoch-token: --director and --lease are required\n";
    return std::nullopt;
  }
  return args;
}

void printLine(const std::string& lease, const std::string& director, bool held,
               const std::string& holder, std::uint64_t epoch, std::int64_t remainingMs) {
  // One flush per line: a program reading the watch sees each change as it happens.
  std::cout << "lease=" << lease << " director=" << director << " held=" << (held ? "yes" : "no")
            << " holder=" << (holder.empty() ? "-" : holder) << " epoch=" << epoch
            << " remaining_ms=" << remainingMs << std::endl;
}

int once(quorate::sdk::Client& client, const Args& args) {
  // The question a fencing writer asks: localTenure. Its epoch goes with every write.
  auto tenure = client.localTenure(args.lease);
  if (!tenure.ok()) {
    std::cerr << "epoch-token: " << tenure.status().toString() << "\n";
    return kExitFailure;
  }
  if (tenure->has_value()) {
    const quorate::sdk::Tenure& t = **tenure;
    printLine(t.lease, t.holder, true, t.holder, t.epoch, t.remaining.count());
    return kExitHeld;
  }
  // Not held here: ask who does, for the operator.
  auto status = client.status();
  const quorate::sdk::LeaseStatus* lease = status.ok() ? status->lease(args.lease) : nullptr;
  if (lease == nullptr) {
    std::cerr << "epoch-token: "
              << (status.ok() ? "the lease vanished between two calls" : status.status().toString())
              << "\n";
    return kExitFailure;
  }
  printLine(lease->name, status->node, false, lease->holder, lease->epoch, lease->remainingMs);
  return kExitNotHeld;
}

int watch(quorate::sdk::Client& client, const Args& args, quorate::sdk::Cancellation cancel) {
  std::optional<std::tuple<bool, std::string, std::uint64_t>> last;
  std::uint64_t printed = 0;
  std::string problem;
  const quorate::sdk::Status s = client.watch(
      [&](const quorate::sdk::DirectorStatus& status) {
        const quorate::sdk::LeaseStatus* lease = status.lease(args.lease);
        if (lease == nullptr) {
          problem = "the director has no lease \"" + args.lease + "\"";
          return false;
        }
        const bool held = lease->role == "holder" && lease->holder == status.node;
        auto now = std::make_tuple(held, lease->holder, lease->epoch);
        if (last == now) return true;
        last = now;
        printLine(lease->name, status.node, held, lease->holder, lease->epoch, lease->remainingMs);
        return args.count == 0 || ++printed < args.count;
      },
      cancel);
  if (!problem.empty()) {
    std::cerr << "epoch-token: " << problem << "\n";
    return kExitFailure;
  }
  if (s.code() == quorate::sdk::Code::kCancelled) return kExitInterrupted;
  if (!s.ok()) {
    std::cerr << "epoch-token: " << s.toString() << "\n";
    return kExitFailure;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::optional<Args> args = parseArgs(argc, argv);
  if (!args) {
    usage(std::cerr);
    return kExitUsage;
  }

  // Ctrl-C ends a watch through its Cancellation: a thread waits for the signal (blocked in
  // every other thread, gRPC's included, since they start later).
  quorate::sdk::Cancellation cancel;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([cancel, set]() mutable {
    int sig = 0;
    while (sigwait(&set, &sig) != 0) {
    }
    cancel.cancel();
  }).detach();

  quorate::sdk::Client client(args->director,
                              quorate::sdk::Options{std::chrono::milliseconds(args->timeoutMs)});
  if (const quorate::sdk::Status v = client.valid(); !v.ok()) {
    std::cerr << "epoch-token: " << v.toString() << "\n";
    return kExitUsage;
  }
  return args->watch ? watch(client, *args, cancel) : once(client, *args);
}
