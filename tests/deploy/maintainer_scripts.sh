#!/bin/bash
# Runs the package's maintainer scripts (deploy/debian) against fake adduser, deluser, delgroup,
# getent and systemctl that record their calls and keep a user list in a temp dir, not on this
# host: postinst configure, run twice, makes each of quorate and quorate_script exactly once, as
# system users with a group and no home; postrm remove and purge keep them (they own the state
# purge keeps); systemctl is called only when systemd runs (/run/systemd/system).
#   maintainer_scripts.sh [--broken] DEBIAN_DIR
# --broken: the control; a postinst without its "user exists" test and a postrm that removes the
# users on purge, each of which must be reported (exit 0 when both were).
set -u
broken=0
if [[ ${1:-} == --broken ]]; then
  broken=1
  shift
fi
debian=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/bin"
fake() { # NAME BODY
  printf '#!/bin/bash\necho "%s $*" >>"%s/calls"\n%s\n' "$1" "$tmp" "$2" >"$tmp/bin/$1"
  chmod +x "$tmp/bin/$1"
}
# adduser --system --group ... NAME: the name is the last argument.
fake adduser 'echo "${@: -1}" >>'"$tmp/users"'; echo "${@: -1}" >>'"$tmp/groups"
fake deluser 'sed -i "/^${@: -1}\$/d" '"$tmp/users"
fake delgroup 'sed -i "/^${@: -1}\$/d" '"$tmp/groups"
fake systemctl ':'
# getent passwd|group NAME: only what the fakes made exists.
fake getent 'f='"$tmp"'/users; [[ $1 == group ]] && f='"$tmp"'/groups
grep -qx "$2" "$f" 2>/dev/null'
touch "$tmp/users" "$tmp/groups" "$tmp/calls"
if [[ -d /run/systemd/system ]]; then reloads=1; else reloads=0; fi

run() { # SCRIPT ARG...
  local script=$1
  shift
  : >"$tmp/calls"
  PATH="$tmp/bin:/usr/sbin:/usr/bin:/sbin:/bin" sh "$script" "$@" >"$tmp/out" 2>&1 || {
    echo "$(basename "$script") $*: failed: $(cat "$tmp/out")"
    return 1
  }
}
count() { grep -c "$1" "$tmp/calls"; }
expect() { # WHAT WANT GOT
  if [[ $2 != "$3" ]]; then
    echo "$1: expected $2, got $3 (calls: $(grep -v '^getent' "$tmp/calls" | tr '\n' ';'))"
    return 1
  fi
}

check() { # POSTINST POSTRM
  local status=0 u
  run "$1" configure || return 1
  for u in quorate quorate_script; do
    expect "first postinst: adduser --system --group --no-create-home ... $u" 1 \
      "$(count "^adduser --system --group --no-create-home .* $u\$")" || status=1
  done
  expect "first postinst: adduser calls" 2 "$(count '^adduser ')" || status=1
  expect "first postinst: daemon-reloads" $reloads "$(count '^systemctl --system daemon-reload')" ||
    status=1
  run "$1" configure || return 1
  expect "second postinst: adduser calls (the users exist)" 0 "$(count '^adduser ')" || status=1
  expect "users after two postinst runs" "quorate quorate_script" "$(sort "$tmp/users" | xargs)" ||
    status=1
  run "$2" remove || return 1
  expect "postrm remove: deluser calls" 0 "$(count '^deluser ')" || status=1
  run "$2" purge || return 1
  expect "postrm purge: deluser and delgroup calls" 0 "$(count '^del')" || status=1
  expect "users after purge" "quorate quorate_script" "$(sort "$tmp/users" | xargs)" || status=1
  grep -q "kept the users quorate and quorate_script" "$tmp/out" || {
    echo "postrm purge did not say it kept the users: $(cat "$tmp/out")"
    status=1
  }
  run "$1" bogus-argument && {
    echo "postinst accepted an unknown argument"
    status=1
  }
  return $status
}

if ((!broken)); then
  check "$debian/postinst" "$debian/postrm" &&
    echo "postinst and postrm: users made once, kept on remove and on purge"
  exit
fi
sed 's/if ! getent passwd "$1" >\/dev\/null; then/if true; then/' "$debian/postinst" \
  >"$tmp/postinst.unguarded"
# The postrm this package once had: purge deleted the users (and so freed the state's owner uid).
sed 's/    if \[ "$1" = purge \]; then/&\n      deluser --system --quiet quorate; deluser --system --quiet quorate_script/' \
  "$debian/postrm" >"$tmp/postrm.eager"
! cmp -s "$debian/postinst" "$tmp/postinst.unguarded" && ! cmp -s "$debian/postrm" \
  "$tmp/postrm.eager" || {
  echo "the plants did not take"
  exit 1
}
: >"$tmp/users" && : >"$tmp/groups"
out=$(check "$tmp/postinst.unguarded" "$debian/postrm")
grep -q "second postinst: adduser calls (the users exist): expected 0, got 2" <<<"$out" || {
  echo "the unguarded postinst was not reported: $out"
  exit 1
}
: >"$tmp/users" && : >"$tmp/groups"
out=$(check "$debian/postinst" "$tmp/postrm.eager")
grep -q "postrm purge: deluser and delgroup calls: expected 0, got 2" <<<"$out" || {
  echo "the postrm that removes users on purge was not reported: $out"
  exit 1
}
echo "the unguarded postinst and the eager postrm were reported, as they must be"
