#!/usr/bin/env bash
# Imports every keepalived config in DIR with quoratectl import-keepalived and runs
# quorate-director --check on each director file it writes. Passes when every config imports and
# --check fails only on facts of this host (interfaces, addresses, programs, kernel features),
# which it names. Exit 77 (ctest: skipped) when DIR does not exist.
#
#   import_samples.sh QUORATECTL QUORATE_DIRECTOR DIR
#
# QUORATE_IMPORT_SPOIL=1 appends an unknown key to each director file before --check: the
# planted fault that shows this script failing when a produced file is wrong.
set -uo pipefail
ctl=${1:?quoratectl} director=${2:?quorate-director} dir=${3:?directory of configs}
if [[ ! -d $dir ]]; then
  echo "SKIPPED: no $dir (bash scripts/fetch-keepalived-samples.sh puts Debian's samples there)"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
head -c 32 /dev/urandom | base64 >"$work/cluster.secret"
chmod 600 "$work/cluster.secret"

# FAIL lines of --check that say something about this machine, not about the file.
host_fact='^FAIL +(interface |program |kernel |listen )'
failed=0
count=0
for f in "$dir"/*; do
  [[ -f $f ]] || continue
  case $f in *.report | *.sh | *.gz | *.txt) continue ;; esac
  count=$((count + 1))
  name=$(basename "$f")
  out=$work/$name
  mkdir -p "$out"
  if ! "$ctl" import-keepalived "$f" --out-dir "$out" --secret-file "$work/cluster.secret" \
    >"$out/import.log" 2>&1; then
    echo "FAIL import $name:"
    sed 's/^/    /' "$out/import.log"
    failed=1
    continue
  fi
  [[ ${QUORATE_IMPORT_SPOIL:-} == 1 ]] && echo "no_such_key: 1" >>"$out/alpha.yaml"
  "$director" --check --config "$out/alpha.yaml" >"$out/check.log" 2>&1
  rc=$?
  if ((rc != 0 && rc != 1)); then
    echo "FAIL --check $name refused the file (exit $rc):"
    sed 's/^/    /' "$out/check.log"
    failed=1
    continue
  fi
  other=$(grep -E '^FAIL' "$out/check.log" | grep -Ev "$host_fact")
  if [[ -n $other ]]; then
    echo "FAIL --check $name: not a fact of this host:"
    echo "$other" | sed 's/^/    /'
    failed=1
    continue
  fi
  facts=$(grep -E "$host_fact" "$out/check.log" | sed -E 's/^FAIL +//; s/: .*//' | sort -u |
    paste -sd ',' - | sed 's/,/, /g')
  summary=$(grep -m1 '^imported:' "$out/import.log" | sed 's/^imported: //')
  echo "ok   $name: $summary; --check exit $rc${facts:+ (host facts: $facts)}"
done
if ((count == 0)); then
  echo "FAIL: no config in $dir"
  exit 1
fi
exit "$failed"
