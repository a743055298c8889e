#!/bin/bash
# Checks that each program prints "NAME VERSION (commit COMMIT, protocol N)" for --version, with
# no other argument (the daemons need --config otherwise), and exits 0.
#   version.sh [--broken] VERSION COMMIT PROTOCOL PROGRAM...
# --broken: the control; expects a commit that is not the build's, and every program must then be
# reported (exit 0 when all were).
set -u
broken=0
if [[ ${1:-} == --broken ]]; then
  broken=1
  shift
fi
version=$1 commit=$2 protocol=$3
shift 3
((broken)) && commit="planted-${commit}"
failures=0
for program in "$@"; do
  name=$(basename "$program")
  want="$name $version (commit $commit, protocol $protocol)"
  got=$("$program" --version 2>&1)
  rc=$?
  if ((rc != 0)) || [[ $got != "$want" ]]; then
    echo "$name --version: exit $rc, printed \"$got\", expected \"$want\""
    failures=$((failures + 1))
  else
    echo "$name --version: $got"
  fi
done
if ((broken)); then
  if ((failures == $#)); then
    echo "every program's planted mismatch was reported, as it must be"
    exit 0
  fi
  echo "only $failures of $# planted mismatches were reported"
  exit 1
fi
((failures == 0))
