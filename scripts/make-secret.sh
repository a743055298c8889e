#!/bin/sh
# Creates each named cluster key file that does not exist yet: 32 random bytes, base64, mode 0600.
# Used at the first start of the examples, so that no key is ever committed. An existing file is
# left alone (its nodes already share it).
set -eu
if [ $# -eq 0 ]; then
  echo "usage: make-secret.sh FILE..." >&2
  exit 2
fi
for f in "$@"; do
  [ -e "$f" ] && continue
  # umask first: the key is never readable by others, not even for an instant.
  (umask 077 && head -c 32 /dev/urandom | base64 >"$f.tmp.$$" && mv "$f.tmp.$$" "$f")
  echo "make-secret.sh: created $f (mode 0600)"
done
