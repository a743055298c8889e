#!/bin/sh
# Shared driver of the mutant scripts: applies each sed mutant of a table in turn, builds, runs the
# gtest filter that must fail, and restores the sources from git afterwards.
#
# Usage: mutants.sh BUILD_DIR DEFAULT_TARGET TIMEOUT_S [NAME...] < TABLE
# TABLE holds one mutant a line, name@file@sed expression@gtest filter[@target] (blank lines are
# skipped; the target defaults to DEFAULT_TARGET, whose binary is BUILD_DIR/bin/TARGET). With
# NAMEs only those mutants run. A mutant is caught when its filter fails, dies of a signal or hangs
# past TIMEOUT_S (then it is killed); it is not caught when it survives, skips a test, does not
# apply or does not build, and then the exit status is 1. Paths are relative to the repository
# root, and so is BUILD_DIR unless absolute.
set -u
usage='usage: mutants.sh BUILD_DIR DEFAULT_TARGET TIMEOUT_S [NAME...] < TABLE'
if [ $# -lt 3 ]; then
  echo "$usage" >&2
  exit 2
fi
build=$1
target=$2
limit=$3
shift 3
case $limit in
  '' | *[!0-9]* | 0)
    echo "mutants.sh: timeout '$limit' is not a positive number of seconds" >&2
    exit 2
    ;;
esac
root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel) || exit 2
cd "$root" || exit 2
if [ ! -f "$build/build.ninja" ]; then
  echo "mutants.sh: $build is not a ninja build directory (from $root)" >&2
  exit 2
fi

table=$(cat)
# An @ inside a sed expression would shift the fields, so a line must have exactly 4 or 5.
bad=$(printf '%s\n' "$table" | awk -F@ 'NF && (NF < 4 || NF > 5 || $1 == "" || $2 == "") {
  print "  line " NR ": " $0 }')
if [ -n "$bad" ]; then
  echo "mutants.sh: table lines need name@file@sed expression@gtest filter[@target]:" >&2
  echo "$bad" >&2
  exit 2
fi
for want in "$@"; do
  if ! printf '%s\n' "$table" | awk -F@ -v n="$want" '$1 == n { found = 1 } END { exit !found }'
  then
    echo "mutants.sh: no mutant named $want" >&2
    exit 2
  fi
done
files=$(printf '%s\n' "$table" | awk -F@ 'NF { print $2 }' | sort -u)
targets=$( (echo "$target"; printf '%s\n' "$table" | awk -F@ 'NF == 5 { print $5 }') | sort -u)
for f in $files; do
  if [ ! -f "$f" ]; then
    echo "mutants.sh: no file $f in $root" >&2
    exit 2
  fi
done
# shellcheck disable=SC2086
if ! git diff --quiet -- $files; then
  echo "mutants.sh: local changes in" $files "; commit or stash them first" >&2
  exit 2
fi
log=/tmp/mutant-$$.log
out=/tmp/mutant-$$.out
# The test binaries come back unmutated only by the rebuild at the end, which an interrupted run
# skips; the sources are restored in every case.
# shellcheck disable=SC2086
restore() { git checkout -q -- $files; }
trap 'restore; rm -f "$log" "$out"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

status=0
run=0
caught=0
while IFS='@' read -r name file expr filter tgt; do
  [ -n "$name" ] || continue
  if [ $# -gt 0 ]; then
    case " $* " in *" $name "*) ;; *) continue ;; esac
  fi
  run=$((run + 1))
  tgt=${tgt:-$target}
  restore
  sed -i "$expr" "$file"
  if git diff --quiet -- "$file"; then
    echo "MUTANT $name: did not apply"
    status=1
    continue
  fi
  if ! nice -n 5 ninja -C "$build" -j2 "$tgt" >"$log" 2>&1 </dev/null; then
    # Kept past the run: the per-PID log is removed at exit.
    cp "$log" "/tmp/mutant-$$-$name.log"
    echo "MUTANT $name: does not build (see /tmp/mutant-$$-$name.log)"
    status=1
    continue
  fi
  timeout -s KILL "$limit" "$build/bin/$tgt" --gtest_filter="$filter" >"$out" 2>&1 </dev/null
  rc=$?
  # A skipped test proves nothing, even when another test of the filter failed.
  if grep -q '^\[  SKIPPED \]' "$out"; then
    echo "MUTANT $name: tests skipped in $filter (a missing tool or privilege?), not caught"
    status=1
  elif [ $rc -eq 0 ]; then
    echo "MUTANT $name: SURVIVED ($filter passed)"
    status=1
  elif [ $rc -eq 137 ]; then
    echo "MUTANT $name: caught ($filter hung, killed after $limit s)"
    caught=$((caught + 1))
  elif [ $rc -gt 128 ]; then
    echo "MUTANT $name: caught ($filter died of signal $((rc - 128)))"
    caught=$((caught + 1))
  else
    echo "MUTANT $name: caught by $(grep -c '^\[  FAILED  \] .*(' "$out") test(s) of $filter"
    caught=$((caught + 1))
  fi
done <<END
$table
END
restore
# shellcheck disable=SC2086
nice -n 5 ninja -C "$build" -j2 $targets >/dev/null 2>&1 </dev/null
echo "mutants: $caught of $run caught"
exit $status
