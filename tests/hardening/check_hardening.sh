#!/bin/bash
# Checks built binaries for the hardening of cmake/QuorateBuild.cmake with readelf: PIE (type
# DYN), full RELRO (GNU_RELRO and BIND_NOW), the stack protector (__stack_chk_fail) and FORTIFY
# (some __*_chk function). Prints one line per binary and per missing property.
#   check_hardening.sh BINARY...                   exit 0 when every binary has everything
#   check_hardening.sh --expect-missing BINARY...  exit 0 when each binary misses all five
#                                                  (the unhardened control: the checks can fail)
set -u
expect_missing=0
if [[ ${1:-} == --expect-missing ]]; then
  expect_missing=1
  shift
fi
if (($# == 0)); then
  echo "usage: $0 [--expect-missing] BINARY..." >&2
  exit 2
fi
if ! command -v readelf >/dev/null; then
  echo "readelf not found (Debian: binutils)" >&2
  exit 2
fi

status=0
for bin in "$@"; do
  if [[ ! -f $bin ]]; then
    echo "$bin: no such file" >&2
    status=1
    continue
  fi
  missing=()
  readelf -hW "$bin" | grep -Eq '^ *Type: +DYN' || missing+=("PIE (ELF type is not DYN)")
  readelf -lW "$bin" | grep -q 'GNU_RELRO' || missing+=("RELRO (no GNU_RELRO segment)")
  readelf -dW "$bin" | grep -Eq 'BIND_NOW|FLAGS.*[[:space:]]NOW' ||
    missing+=("BIND_NOW (lazy binding)")
  syms=$(readelf --dyn-syms -W "$bin")
  grep -q '__stack_chk_fail' <<<"$syms" || missing+=("stack protector (no __stack_chk_fail)")
  grep -Eq '__[a-z0-9_]+_chk(@|$| )' <<<"$(grep -v __stack_chk_fail <<<"$syms")" ||
    missing+=("FORTIFY (no __*_chk function)")
  if ((expect_missing)); then
    if ((${#missing[@]} != 5)); then
      echo "$bin: expected to miss all five properties, misses ${#missing[@]}:"
      printf '  %s\n' "${missing[@]}"
      status=1
    else
      echo "$bin: unhardened, as expected:"
      printf '  missing %s\n' "${missing[@]}"
    fi
  elif ((${#missing[@]} > 0)); then
    echo "$bin: NOT hardened:"
    printf '  missing %s\n' "${missing[@]}"
    status=1
  else
    echo "$bin: PIE, RELRO, BIND_NOW, stack protector, FORTIFY"
  fi
done
exit $status
