// Signals are taken synchronously with sigwait, so no handler runs inside gRPC or Asio.
#include "common/signals.h"

#include <csignal>

namespace quorate {
namespace {
sigset_t stopSet() {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGINT);
  sigaddset(&s, SIGTERM);
  return s;
}
}  // namespace

void blockStopSignals() {
  sigset_t s = stopSet();
  sigaddset(&s, SIGHUP);  // taken by waitForSignal, never the default (terminate)
  pthread_sigmask(SIG_BLOCK, &s, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

int waitForStopSignal() {
  sigset_t s = stopSet();
  int sig = 0;
  while (sigwait(&s, &sig) != 0) {
  }
  return sig;
}

int waitForSignal() {
  sigset_t s = stopSet();
  sigaddset(&s, SIGHUP);
  int sig = 0;
  while (sigwait(&s, &sig) != 0) {
  }
  return sig;
}

}  // namespace quorate
