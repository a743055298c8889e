#!/bin/sh
# Breaks each property of the event log and of quoratectl events on purpose (one sed mutant at a
# time, restored from git afterwards) and checks that the named test catches it.
# Usage: mutants.sh BUILD_DIR [NAME...]   (as root, the full-tmpfs test runs too)
set -u
build=${1:?usage: mutants.sh BUILD_DIR [NAME...]}
shift
root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel) || exit 2
cd "$root" || exit 2
files="server/events client/events.cc server/daemon.cc"
# shellcheck disable=SC2086
if ! git diff --quiet -- $files; then
  echo "$files: local changes; commit or stash them first" >&2
  exit 2
fi
# shellcheck disable=SC2086
trap 'git checkout -q -- $files' EXIT INT TERM

L=server/events/event_log.cc
C=client/events.cc
E=quorate_events_tests
Q=quorate_client_events_tests
# name@file@sed expression@test binary@gtest filter that must fail
mutants="
no-fdatasync@$L@s/if (options_.ops.dataSync(fd_) != 0) {/if (false) {/@$E@*Synced*
count-before-sync@$L@s/  ++unsynced_;/  ++unsynced_; ++written_;/; s/    written_ += unsynced_;//@$E@*Synced*
unbounded-queue@$L@s/if (queue_.size() >= options_.queue) {/if (false) {/@$E@*FullQueue*
no-dropped-before@$L@s/now, seq, droppedSinceQueued_}/now, seq, 0}/@$E@*FullQueue*
raw-strings@$L@s/out += dumpValue(value);/out += value.is_string() ? '\"' + value.get<std::string>() + '\"' : dumpValue(value);/@$E@*Hostile*
strict-utf8@$L@s/false, json::error_handler_t::replace);/false, json::error_handler_t::strict);/@$E@*Hostile*
umask-mode@$L@s/(created && ::fchmod(fd, 0640) != 0)/false/@$E@*RoundTrip*
keep-one-more@$L@s/for (int i = options_.keep - 1;/for (int i = options_.keep;/@$E@*Rotation*
no-dir-sync@$L@s/if (dfd < 0 || options_.ops.dirSync(dfd) != 0) {/if (dfd < 0) {/@$E@*Rotation*
rotate-unsynced@$L@s/  syncWritten();  \/\/ the old file's records/  \/\/ the old file's records/@$E@*Rotation*
rotation-eats-record@$L@s/(void)rotate();/{ (void)rotate(); return; }/@$E@*Rotation*
no-cut-partial@$L@s/if (::ftruncate(fd_, static_cast<off_t>(size_)) == 0) {/if (false) {/; s/if (partialLine_) line.insert(line.begin(), '.n');//@$E@*WriteErrors*
no-cut-partial-tmpfs@$L@s/if (::ftruncate(fd_, static_cast<off_t>(size_)) == 0) {/if (false) {/; s/if (partialLine_) line.insert(line.begin(), '.n');//@$E@*FullTmpfs*
log-every-error@$L@s/if (inErrorBurst_) return;//@$E@*WriteErrors*
raw-control-chars@$C@s/if (c <= 0x20 || c >= 0x7f/if (c == 0x20/@$Q@*NothingRaw*
tail-one-short@$C@s/++newlines == lines + 1/++newlines == lines/@$Q@*TheLastN*
corrupt-shown@$C@s/auto formatted = formatEvent(text)/auto formatted = std::optional<std::string>(std::string(text))/@$Q@*Corrupt*
no-line-cap@$C@s/if (pending_.size() > kMaxLine) {/if (false) {/@$Q@*Overlong*
no-rotation-follow@$C@s/if (now.st_ino != mine.st_ino || now.st_dev != mine.st_dev) {/if (false) {/@$Q@*FollowsAcrossRotations*
n0-shows-old@$C@s/if (lines == 0) return static_cast<std::int64_t>(size);/if (lines == 0) return 0;/@$Q@*FollowWithNZero*
no-stopping-record@server/daemon.cc@s/if (events_) events_->append({{\"event\", \"stopping\"}});//@quorate_daemon_events_tests@*StartedAndStopping*
"

status=0
while IFS='@' read -r name file expr target filter; do
  [ -n "$name" ] || continue
  if [ $# -gt 0 ]; then
    case " $* " in *" $name "*) ;; *) continue ;; esac
  fi
  # shellcheck disable=SC2086
  git checkout -q -- $files
  sed -i "$expr" "$file"
  if git diff --quiet -- "$file"; then
    echo "MUTANT $name: did not apply"
    status=1
    continue
  fi
  if ! nice -n 5 ninja -C "$build" -j2 "$target" >/tmp/mutant-$$.log 2>&1; then
    echo "MUTANT $name: does not build (see /tmp/mutant-$$.log)"
    status=1
    continue
  fi
  if timeout 120 "$build/bin/$target" --gtest_filter="$filter" >/tmp/mutant-$$.out 2>&1; then
    echo "MUTANT $name: SURVIVED ($filter passed)"
    status=1
  else
    echo "MUTANT $name: caught by $(grep -c '^\[  FAILED  \] .*(' /tmp/mutant-$$.out) test(s) of $filter"
  fi
done <<END
$mutants
END
# shellcheck disable=SC2086
git checkout -q -- $files
nice -n 5 ninja -C "$build" -j2 quorate_events_tests quorate_client_events_tests \
  quorate_daemon_events_tests >/dev/null 2>&1
rm -f /tmp/mutant-$$.log /tmp/mutant-$$.out
exit $status
