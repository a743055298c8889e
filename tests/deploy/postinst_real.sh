#!/bin/bash
# Runs the package's postinst and postrm with Debian's own adduser and deluser, on a copy of /etc
# bind-mounted over /etc in a private mount namespace (the host's users are never touched): two
# postinst runs leave quorate and quorate_script as system users (uid below 1000, no login shell,
# home /nonexistent) with their own groups; postrm remove and purge keep them. Skipped (exit 77)
# unless root with unshare and adduser.
#   postinst_real.sh [--broken] DEBIAN_DIR
# --broken: the control; a postinst that calls adduser without --system, whose user the check
# must report as not a system user (exit 0 when it was).
set -u
broken=0
if [[ ${1:-} == --broken ]]; then
  broken=1
  shift
fi
if [[ $(id -u) -ne 0 ]] || ! command -v unshare >/dev/null || ! command -v adduser >/dev/null; then
  echo "SKIP: needs root, unshare (util-linux) and adduser"
  exit 77
fi
debian=$(cd "$1" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$debian/postinst" "$debian/postrm" "$tmp/"
if ((broken)); then
  sed -i 's/adduser --system --group /adduser --disabled-password --gecos "" /' \
    "$tmp/postinst"
  ! cmp -s "$debian/postinst" "$tmp/postinst" || {
    echo "the plant did not take"
    exit 1
  }
fi
before=$(md5sum /etc/passwd /etc/group)

# Inside the namespace: prints one finding per line, nothing when all is well.
inside=$(
  cat <<'SH'
set -u
d=$1
cp -a /etc "$d/etc" && mount --bind "$d/etc" /etc || {
  echo "cannot set up the copy of /etc"
  exit
}
for u in quorate quorate_script; do
  getent passwd "$u" >/dev/null && { echo "$u exists before postinst"; exit; }
done
sh "$d/postinst" configure >"$d/first.log" 2>&1 ||
  echo "first postinst failed: $(cat "$d/first.log")"
cp /etc/passwd "$d/passwd.first"
sh "$d/postinst" configure >"$d/second.log" 2>&1 ||
  echo "second postinst failed: $(cat "$d/second.log")"
cmp -s /etc/passwd "$d/passwd.first" || echo "the second postinst changed /etc/passwd"
for u in quorate quorate_script; do
  IFS=: read -r _ _ uid gid _ home shell < <(getent passwd "$u") || {
    echo "no user $u"
    continue
  }
  ((uid < 1000)) || echo "$u is not a system user (uid $uid)"
  [[ $shell == */nologin || $shell == /bin/false ]] || echo "$u has a login shell ($shell)"
  [[ $home == /nonexistent ]] || echo "$u has the home $home"
  [[ $(getent group "$u" | cut -d: -f3) == "$gid" ]] || echo "$u's primary group is not $u"
done
sh "$d/postrm" remove >/dev/null 2>&1 || echo "postrm remove failed"
getent passwd quorate >/dev/null || echo "postrm remove removed the user quorate"
sh "$d/postrm" purge >"$d/purge.log" 2>&1 || echo "postrm purge failed: $(cat "$d/purge.log")"
for u in quorate quorate_script; do
  getent passwd "$u" >/dev/null || echo "purge removed the user $u"
  getent group "$u" >/dev/null || echo "purge removed the group $u"
done
SH
)
findings=$(unshare --mount --propagation private bash -c "$inside" inside "$tmp")
after=$(md5sum /etc/passwd /etc/group)
if [[ $before != "$after" ]]; then
  echo "the host's /etc/passwd or /etc/group changed: the namespace leaked"
  exit 1
fi
if ((broken)); then
  if grep -q "quorate is not a system user" <<<"$findings"; then
    echo "the postinst without --system was reported, as it must be"
    exit 0
  fi
  echo "the postinst without --system was not reported: $findings"
  exit 1
fi
if [[ -n $findings ]]; then
  echo "$findings"
  exit 1
fi
echo "postinst twice, postrm remove and purge with the real adduser: users made once as system" \
  "users, kept on remove and on purge"
