// Blocking SIGINT/SIGTERM/SIGHUP in every thread and waiting for one in main.
#pragma once

namespace quorate {

// Call first thing in main, before any thread starts.
void blockStopSignals();
// Waits for SIGINT or SIGTERM; returns the signal number. SIGHUP stays blocked (ignored).
int waitForStopSignal();
// Waits for SIGINT, SIGTERM or SIGHUP (reload); returns the signal number.
int waitForSignal();

}  // namespace quorate
