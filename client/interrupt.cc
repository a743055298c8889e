// Ctrl-C handling for quoratectl: sigwait on a dedicated thread instead of a signal handler.
#include "client/interrupt.h"

#include <pthread.h>
#include <signal.h>

#include <cstdlib>
#include <thread>

namespace quorate::client {

void CallCanceller::cancel() {
  std::lock_guard<std::mutex> lock(mu_);
  cancelled_ = true;
  if (context_ != nullptr) context_->TryCancel();
}

bool CallCanceller::cancelled() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cancelled_;
}

CallCanceller::Attach::Attach(CallCanceller* canceller, grpc::ClientContext* context)
    : canceller_(canceller) {
  if (canceller_ == nullptr) return;
  std::lock_guard<std::mutex> lock(canceller_->mu_);
  canceller_->context_ = context;
  // TryCancel before the call starts makes gRPC cancel it as soon as it starts.
  if (canceller_->cancelled_) context->TryCancel();
}

CallCanceller::Attach::~Attach() {
  if (canceller_ == nullptr) return;
  std::lock_guard<std::mutex> lock(canceller_->mu_);
  canceller_->context_ = nullptr;
}

void startInterruptWatcher(CallCanceller* canceller) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([canceller, set] {
    int signals = 0;
    for (;;) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) continue;
      if (++signals > 1) std::_Exit(130);
      canceller->cancel();
    }
  }).detach();
}

}  // namespace quorate::client
