// MISC_CHECK: one run of the check's program through the director's ScriptRunner, its exit
// mapped to an Outcome (with keepalived's misc_dynamic weights when asked).
#include <memory>
#include <string>
#include <utility>

#include "server/check/probes_internal.h"
#include "server/script_runner.h"

namespace quorate::server::check {
namespace {

Outcome toOutcome(const ScriptExit& exit, bool dynamic) {
  if (exit.kind != ScriptExit::Kind::kExited) return Outcome{false, exit.toString(), {}};
  const int code = exit.code;
  if (!dynamic || code == 0 || code == 1) return Outcome{code == 0, exit.toString(), {}};
  // misc_dynamic: 2..255 pass and set the weight to code - 2.
  const int weight = code - 2;
  return Outcome{true, exit.toString() + ": weight " + std::to_string(weight), weight};
}

class ScriptProbe : public Probe {
 public:
  ScriptProbe(const ScriptSpec& script, std::chrono::milliseconds timeout, ProbeContext& ctx)
      : dynamic_(script.dynamic), ctx_(ctx) {
    run_.argv = script.argv;
    run_.user = script.user;
    run_.timeout = timeout;
  }

  // Destroying `running_` kills the program and guarantees its callback never runs.
  ~ScriptProbe() override = default;

  void start(Done done) override {
    running_ = ctx_.scripts().start(run_, [this, done = std::move(done)](ScriptExit exit) {
      // `done` may destroy this probe: copy what is needed first, touch nothing after.
      const Done d = done;
      d(toOutcome(exit, dynamic_));
    });
  }

 private:
  ScriptRun run_;
  bool dynamic_;
  ProbeContext& ctx_;
  std::unique_ptr<ScriptRunner::Handle> running_;
};

}  // namespace

std::unique_ptr<Probe> makeScriptProbe(const CheckSpec& spec, ProbeContext& ctx) {
  const auto* script = std::get_if<ScriptSpec>(&spec.kind);
  static const ScriptSpec kNone;
  return std::make_unique<ScriptProbe>(script ? *script : kNone, spec.timeout, ctx);
}

}  // namespace quorate::server::check
