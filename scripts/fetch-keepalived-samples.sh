#!/usr/bin/env bash
# Puts the sample configs of Debian's keepalived package into DIR (default build/keepalived-samples)
# for the import test (tests/client/keepalived/import_samples.sh). They are keepalived's, not ours:
# fetched with apt-get download, never committed.
#
#   bash scripts/fetch-keepalived-samples.sh [DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:-$root/build/keepalived-samples}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download keepalived >/dev/null 2>&1) || {
  echo "fetch-keepalived-samples: apt-get download keepalived failed (apt-get update first?)" >&2
  exit 1
}
deb=$(ls "$tmp"/keepalived_*.deb)
dpkg-deb -x "$deb" "$tmp/x"
mkdir -p "$dest"
cp "$tmp"/x/usr/share/doc/keepalived/samples/keepalived.conf.* "$dest"/
echo "$(ls "$dest" | wc -l) sample configs of $(basename "$deb") in $dest"
