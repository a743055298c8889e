#!/bin/sh
# Breaks each property of the event log and of quoratectl events on purpose (one sed mutant at a
# time, restored from git afterwards) and checks that the named test catches it, by failing or by
# hanging past 120 s. Usage: mutants.sh BUILD_DIR [NAME...]   (as root, the full-tmpfs test runs
# too; otherwise it skips and no-cut-partial-tmpfs is not caught)
set -u
build=${1:?usage: mutants.sh BUILD_DIR [NAME...]}
shift

L=server/events/event_log.cc
C=client/events.cc
E=quorate_events_tests
Q=quorate_client_events_tests
# name@file@sed expression@gtest filter that must fail@test binary
mutants="
no-fdatasync@$L@s/if (options_.ops.dataSync(fd_) != 0) {/if (false) {/@*Synced*@$E
count-before-sync@$L@s/  ++unsynced_;/  ++unsynced_; ++written_;/; s/    written_ += unsynced_;//@*Synced*@$E
unbounded-queue@$L@s/if (queue_.size() >= options_.queue) {/if (false) {/@*FullQueue*@$E
no-dropped-before@$L@s/now, seq, droppedSinceQueued_}/now, seq, 0}/@*FullQueue*@$E
raw-strings@$L@s/out += dumpValue(value);/out += value.is_string() ? '\"' + value.get<std::string>() + '\"' : dumpValue(value);/@*Hostile*@$E
strict-utf8@$L@s/false, json::error_handler_t::replace);/false, json::error_handler_t::strict);/@*Hostile*@$E
umask-mode@$L@s/(created && ::fchmod(fd, 0640) != 0)/false/@*RoundTrip*@$E
keep-one-more@$L@s/for (int i = options_.keep - 1;/for (int i = options_.keep;/@*Rotation*@$E
no-dir-sync@$L@s/if (dfd < 0 || options_.ops.dirSync(dfd) != 0) {/if (dfd < 0) {/@*Rotation*@$E
rotate-unsynced@$L@s/  syncWritten();  \/\/ the old file's records/  \/\/ the old file's records/@*Rotation*@$E
rotation-eats-record@$L@s/(void)rotate();/{ (void)rotate(); return; }/@*Rotation*@$E
no-cut-partial@$L@s/if (::ftruncate(fd_, static_cast<off_t>(size_)) == 0) {/if (false) {/; s/if (partialLine_) line.insert(line.begin(), '.n');//@*WriteErrors*@$E
no-cut-partial-tmpfs@$L@s/if (::ftruncate(fd_, static_cast<off_t>(size_)) == 0) {/if (false) {/; s/if (partialLine_) line.insert(line.begin(), '.n');//@*FullTmpfs*@$E
log-every-error@$L@s/if (inErrorBurst_) return;//@*WriteErrors*@$E
raw-control-chars@$C@s/if (c <= 0x20 || c >= 0x7f/if (c == 0x20/@*NothingRaw*@$Q
tail-one-short@$C@s/afterNthNewlineFromEnd(fd, size, lines + 1)/afterNthNewlineFromEnd(fd, size, lines)/@*TheLastN*@$Q
corrupt-shown@$C@s/auto formatted = formatEvent(text)/auto formatted = std::optional<std::string>(std::string(text))/@*Corrupt*@$Q
no-line-cap@$C@s/if (pending_.size() > kMaxLine) {/if (false) {/@*Overlong*@$Q
no-rotation-follow@$C@s/if (now.st_ino != mine.st_ino || now.st_dev != mine.st_dev) {/if (false) {/@*FollowsAcrossRotations*@$Q
n0-shows-old@$C@s/if (lines == 0) return static_cast<std::int64_t>(size);/if (lines == 0) return 0;/@*FollowWithNZero*@$Q
no-stopping-record@server/daemon.cc@s/if (events_) events_->append({{\"event\", \"stopping\"}});//@*StartedAndStopping*@quorate_daemon_events_tests
"
printf '%s\n' "$mutants" |
  sh "$(dirname "$0")/../../support/mutants.sh" "$build" "$E" 120 "$@"
