#!/bin/sh
# Breaks each stdin/output property of server/script_runner.cc on purpose (one sed mutant at a
# time, restored from git afterwards) and checks that the named test catches it, by failing or by
# hanging past 120 s. Usage: script_runner_mutants.sh BUILD_DIR [NAME...]
set -u
build=${1:?usage: script_runner_mutants.sh BUILD_DIR [NAME...]}
shift
root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel) || exit 2
cd "$root" || exit 2
src=server/script_runner.cc
if ! git diff --quiet -- "$src"; then
  echo "$src has local changes; commit or stash them first" >&2
  exit 2
fi
trap 'git checkout -q -- "$src"' EXIT INT TERM

# name@sed expression@gtest filter that must fail. Not here: the FIONREAD bound on the final read
# at exit (readOutput(s) without it survives: four `cat /dev/zero` cannot keep the pipe from
# running dry between reads on this machine, so no test shows a background writer holding us).
mutants='
sigpipe@s/::pthread_sigmask(SIG_BLOCK, &pipeSet, &old);/::pthread_sigmask(SIG_BLOCK, nullptr, \&old);/@*IgnoringItsInput*
blocking-stdin@s/flags | O_NONBLOCK/flags | (childReads ? 0 : O_NONBLOCK)/@*IgnoringItsInput*
leak-parent-end@s/::pipe2(fds.data(), O_CLOEXEC)/::pipe2(fds.data(), 0)/; s/posix_spawn_file_actions_addclosefrom_np(&fa, 3);//@*InputReachesTheProgram*:*PipesAreTheOnlyFiles*
no-input@s/if (state->inputFd) writeInput(state);/if (state->inputFd) state->inputFd.reset();/@*InputReachesTheProgram*
no-limit@s/const std::size_t kept = std::min(room, size);/const std::size_t kept = size + 0 * room;/@*Truncated*
stderr-lost@s/posix_spawn_file_actions_adddup2(&fa, outFd, 2);/posix_spawn_file_actions_addopen(\&fa, 2, "\/dev\/null", O_WRONLY, 0);/@*StdoutAndStderr*
wait-for-eof@s/^  int pending = 0;/  ::fcntl(s.outputFd->native_handle(), F_SETFL, 0);\n  readOutput(s);\n  s.outputFd.reset();\n  return;\n  int pending = 0;/@*HoldingTheOutputPipe*
no-final-read@s/^  collectOutput(\*s);/  s->outputFd.reset();/@*Captures*:*Truncated*:*TimedOutRunKeeps*
'

status=0
while IFS='@' read -r name expr filter; do
  [ -n "$name" ] || continue
  if [ $# -gt 0 ]; then
    case " $* " in *" $name "*) ;; *) continue ;; esac
  fi
  git checkout -q -- "$src"
  sed -i "$expr" "$src"
  if git diff --quiet -- "$src"; then
    echo "MUTANT $name: did not apply"
    status=1
    continue
  fi
  if ! nice -n 5 ninja -C "$build" -j2 quorate_script_runner_tests >/tmp/mutant-$$.log 2>&1; then
    echo "MUTANT $name: does not build (see /tmp/mutant-$$.log)"
    status=1
    continue
  fi
  timeout -s KILL 120 "$build/bin/quorate_script_runner_tests" --gtest_filter="$filter" \
    >/tmp/mutant-$$.out 2>&1
  rc=$?
  if [ $rc -eq 0 ]; then
    echo "MUTANT $name: SURVIVED ($filter passed)"
    status=1
  elif [ $rc -eq 137 ]; then
    echo "MUTANT $name: caught ($filter hung, killed after 120 s)"
  elif [ $rc -gt 128 ]; then
    echo "MUTANT $name: caught ($filter died of signal $((rc - 128)))"
  else
    echo "MUTANT $name: caught by $(grep -c '^\[  FAILED  \] .*(' /tmp/mutant-$$.out) test(s) of $filter"
  fi
done <<END
$mutants
END
git checkout -q -- "$src"
nice -n 5 ninja -C "$build" -j2 quorate_script_runner_tests >/dev/null 2>&1
rm -f /tmp/mutant-$$.log /tmp/mutant-$$.out
exit $status
