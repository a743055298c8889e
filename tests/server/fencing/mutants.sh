#!/bin/sh
# Breaks each property of server/fencing on purpose (one sed mutant at a time, restored from git
# afterwards) and checks that the named test catches it, by failing or by hanging past 180 s.
# Needs fence-agents installed (else the agent tests skip and the mutants are not caught).
# Usage: mutants.sh BUILD_DIR [NAME...]
set -u
build=${1:?usage: mutants.sh BUILD_DIR [NAME...]}
shift

# name@file@sed expression@gtest filter that must fail
mutants='
password-in-env@server/fencing/fence_agent.cc@s/^    run.argv = {action_.agent};.*/    run.argv = {action_.agent};\n    if (!action_.passwordFile.empty()) run.env.push_back("FENCE_PASSWORD=" + readPassword(action_.passwordFile).value());/@*PasswordIsNever*:*NoArguments*
password-in-argv@server/fencing/fence_agent.cc@s/^    run.argv = {action_.agent};.*/    run.argv = {action_.agent, "--password=" + readPassword(action_.passwordFile).value()};/@*PasswordIsNever*:*NoArguments*
password-logged@server/fencing/fence_agent.cc@s/^        run.input = std::move(in).value();/        run.input = std::move(in).value();\n        spdlog::debug("fence: agent input: {}", run.input);/@*PasswordIsNever*:*NoArguments*
no-action-off@server/fencing/fence_agent.cc@s/if (!hasAction) in += "action=off\\n";//@*IpmilanPowersTheTargetOff*:AgentInput*
exit-code-ignored@server/fencing/fence_agent.cc@s/const bool ok = a.error.empty() && a.exit.ok();/const bool ok = a.error.empty();/@*WrongPassword*:*FailingDevice*
no-retries@server/fencing/fence_agent.cc@s/if (ok || number >= attempts) {/if (ok || number >= 1) {/@*FailingDevice*:*FailingCommand*
no-timeout@server/fencing/fence_agent.cc@s/run.timeout = action_.timeout;/run.timeout = std::chrono::milliseconds(600000);/@*HangingDevice*
newline-in-config@server/fencing/fence_agent.cc@s/if (s.find(.\\n.) != std::string::npos || s.find(.\\r.) != std::string::npos) {/if (false) {/@*RefusesBadSections*
newline-on-stdin@server/fencing/fence_agent.cc@s/return Status::fail(0, "fence option " + key + " holds a newline");/(void)0;/@AgentInput*
no-redaction@server/fencing/fence_agent.cc@s/tail(redact(std::move(exit.output), password), kOutputTail)/tail(exit.output, kOutputTail)/@*EchoedPasswordIsRedacted*
password-read-once@server/fencing/fence_agent.cc@s/^      auto p = readPassword(action_.passwordFile);/      static auto p = readPassword(action_.passwordFile);/@*PasswordFileIsReadAtEachAttempt*
'
printf '%s\n' "$mutants" |
  sh "$(dirname "$0")/../../support/mutants.sh" "$build" quorate_fencing_tests 180 "$@"
