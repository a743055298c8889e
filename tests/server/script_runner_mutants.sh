#!/bin/sh
# Breaks each stdin/output property of server/script_runner.cc on purpose (one sed mutant at a
# time, restored from git afterwards) and checks that the named test catches it, by failing or by
# hanging past 120 s. Usage: script_runner_mutants.sh BUILD_DIR [NAME...]
set -u
build=${1:?usage: script_runner_mutants.sh BUILD_DIR [NAME...]}
shift

# name@file@sed expression@gtest filter that must fail. Not here: the FIONREAD bound on the final
# read at exit (readOutput(s) without it survives: four `cat /dev/zero` cannot keep the pipe from
# running dry between reads on this machine, so no test shows a background writer holding us).
mutants='
sigpipe@server/script_runner.cc@s/::pthread_sigmask(SIG_BLOCK, &pipeSet, &old);/::pthread_sigmask(SIG_BLOCK, nullptr, \&old);/@*IgnoringItsInput*
blocking-stdin@server/script_runner.cc@s/flags | O_NONBLOCK/flags | (childReads ? 0 : O_NONBLOCK)/@*IgnoringItsInput*
leak-parent-end@server/script_runner.cc@s/::pipe2(fds.data(), O_CLOEXEC)/::pipe2(fds.data(), 0)/; s/posix_spawn_file_actions_addclosefrom_np(&fa, 3);//@*InputReachesTheProgram*:*PipesAreTheOnlyFiles*
no-input@server/script_runner.cc@s/if (state->inputFd) writeInput(state);/if (state->inputFd) state->inputFd.reset();/@*InputReachesTheProgram*
no-limit@server/script_runner.cc@s/const std::size_t kept = std::min(room, size);/const std::size_t kept = size + 0 * room;/@*Truncated*
stderr-lost@server/script_runner.cc@s/posix_spawn_file_actions_adddup2(&fa, outFd, 2);/posix_spawn_file_actions_addopen(\&fa, 2, "\/dev\/null", O_WRONLY, 0);/@*StdoutAndStderr*
wait-for-eof@server/script_runner.cc@s/^  int pending = 0;/  ::fcntl(s.outputFd->native_handle(), F_SETFL, 0);\n  readOutput(s);\n  s.outputFd.reset();\n  return;\n  int pending = 0;/@*HoldingTheOutputPipe*
no-final-read@server/script_runner.cc@s/^  collectOutput(\*s);/  s->outputFd.reset();/@*Captures*:*Truncated*:*TimedOutRunKeeps*
'
printf '%s\n' "$mutants" |
  sh "$(dirname "$0")/../support/mutants.sh" "$build" quorate_script_runner_tests 120 "$@"
