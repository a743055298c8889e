// Ctrl-C for quoratectl: a canceller the signal thread pulls, and the thread that pulls it.
#pragma once

#include <grpcpp/client_context.h>

#include <mutex>

namespace quorate::client {

// Cancels the RPC in flight from another thread. Once cancelled, it stays so:
// calls attached later are cancelled as they start.
class CallCanceller {
 public:
  void cancel();
  bool cancelled() const;

  // Registers `context` for the lifetime of the guard.
  class Attach {
   public:
    Attach(CallCanceller* canceller, grpc::ClientContext* context);
    ~Attach();
    Attach(const Attach&) = delete;
    Attach& operator=(const Attach&) = delete;

   private:
    CallCanceller* canceller_;
  };

 private:
  mutable std::mutex mu_;
  grpc::ClientContext* context_ = nullptr;
  bool cancelled_ = false;
};

// Blocks SIGINT and SIGTERM in the calling thread (and so in every thread it starts
// later, gRPC's included) and starts a detached thread that waits for them: the
// first cancels `canceller`, the second ends the process with status 130.
// Call it first thing in main(), before any other thread exists.
void startInterruptWatcher(CallCanceller* canceller);

}  // namespace quorate::client
