#!/bin/bash
# The Debian package, end to end: builds the .deb with cpack from a built tree, checks its control
# data (Depends computed, maintainer scripts there) and its contents (programs, units, the four man
# pages, examples; nothing in /etc, no key) and that cmake --install to another prefix installs
# the same files, extracts the package into a temp root, runs each installed program's --version,
# verifies the installed units, then starts what the units' ExecStart lines name (rewritten into
# the temp root, with a generated loopback configuration: an arbiter and two directors on
# 127.0.0.1 ephemeral ports, an HMAC key made here, state in the temp dir, no VIPs) and asks the
# installed quoratectl until exactly one director holds. Skipped (exit 77) without dpkg-deb,
# cpack or python3.
#   package_test.sh [--broken] BUILD_DIR SOURCE_DIR VERSION COMMIT PROTOCOL
# --broken: the control; copies of the package without quorate.yaml(5) or the director's unit,
# one without Depends and postinst, and a cluster whose three nodes have three different keys
# (nobody can hold): each check must report its plant (exit 0 when all were).
set -u
broken=0
if [[ ${1:-} == --broken ]]; then
  broken=1
  shift
fi
for tool in dpkg-deb cpack python3; do
  if ! command -v $tool >/dev/null; then
    echo "SKIP: $tool is not installed (Debian: dpkg, cmake, python3)"
    exit 77
  fi
done
build=$1 source=$2 version=$3 commit=$4 protocol=$5
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

# --- the control data --------------------------------------------------------------------------
check_info() { # DEB
  local status=0 depends script
  [[ $(dpkg-deb -f "$1" Package) == quorate ]] || { echo "Package is not quorate"; status=1; }
  [[ $(dpkg-deb -f "$1" Version) == "$version" ]] || {
    echo "Version is $(dpkg-deb -f "$1" Version), not $version"
    status=1
  }
  depends=$(dpkg-deb -f "$1" Depends)
  # dpkg-shlibdeps ran: the C library and gRPC are there, and adduser for postinst.
  for want in libc6 libgrpc adduser; do
    grep -q "$want" <<<"$depends" || {
      echo "Depends lacks $want: \"$depends\""
      status=1
    }
  done
  for script in postinst prerm postrm; do
    if ! dpkg-deb --ctrl-tarfile "$1" | tar -tvf - | grep -qE "^-rwx.* \./$script\$"; then
      echo "control: no executable $script"
      status=1
    fi
  done
  return $status
}

# --- the files ---------------------------------------------------------------------------------
expected_files=(
  ./usr/sbin/quorate-director ./usr/sbin/quorate-arbiter ./usr/bin/quoratectl
  ./usr/lib/systemd/system/quorate-director.service ./usr/lib/systemd/system/quorate-arbiter.service
  ./usr/share/man/man8/quorate-director.8.gz ./usr/share/man/man8/quorate-arbiter.8.gz
  ./usr/share/man/man8/quoratectl.8.gz ./usr/share/man/man5/quorate.yaml.5.gz
  ./usr/share/bash-completion/completions/quoratectl
  ./usr/share/doc/quorate/examples/loopback/alpha.yaml
  ./usr/share/doc/quorate/examples/loopback/beta.yaml
  ./usr/share/doc/quorate/examples/loopback/arbiter.yaml
  ./usr/share/doc/quorate/configuration.md
)
check_contents() { # DEB
  local status=0 listing f
  listing=$(dpkg-deb -c "$1" | awk '{print $6}')
  for f in "${expected_files[@]}"; do
    grep -qxF "$f" <<<"$listing" || {
      echo "package lacks $f"
      status=1
    }
  done
  # No live configuration (examples only) and no key, certificate or secret shipped.
  if grep -vE '^\./usr/' <<<"$listing" | grep -vxE '\./'; then
    echo "package has files outside /usr (above)"
    status=1
  fi
  if grep -E '\.(secret|key|pem|crt)$' <<<"$listing"; then
    echo "package ships a key or certificate (above)"
    status=1
  fi
  return $status
}

# --- a cluster from the installed units --------------------------------------------------------
free_ports() { # N: ports the kernel hands out now (a race with other binds is possible, not likely)
  python3 -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1"
}

make_key() { head -c 32 /dev/urandom | base64 >"$1" && chmod 600 "$1"; }

# ExecStart of an installed unit, the program moved into ROOT and --config pointed at CONFIG.
exec_start() { # ROOT UNIT CONFIG
  local line
  line=$(sed -n 's/^ExecStart=//p' "$1/usr/lib/systemd/system/$2")
  [[ $line == /usr/sbin/*" --config /etc/quorate/"*.yaml ]] || {
    echo "unexpected ExecStart in $2: $line" >&2
    return 1
  }
  line=${line/#\/usr\/sbin\//$1\/usr\/sbin\/}
  echo "${line% --config *} --config $3"
}

# Starts an arbiter and two directors from ROOT in DIR; KEYS: one key file per node, or one for
# all. Leaves their PIDs in pids.
start_cluster() { # ROOT DIR KEY_ARBITER KEY_ALPHA KEY_BETA
  local root=$1 dir=$2 ports pa p1 p2 node port cmd
  ports=$(free_ports 3) || return 1
  read -r pa p1 p2 <<<"$ports"
  mkdir -p "$dir/state/arbiter" "$dir/state/alpha" "$dir/state/beta"
  cat >"$dir/arbiter.yaml" <<YAML
listen: 127.0.0.1:$pa
state_dir: $dir/state/arbiter
quarantine_ms: 1800
clusters:
  - id: pkgtest
    secret_file: $3
YAML
  for node in alpha beta; do
    port=$p1 key=$4
    [[ $node == beta ]] && port=$p2 key=$5
    cat >"$dir/$node.yaml" <<YAML
cluster: pkgtest
node: $node
secret_file: $key
listen: 127.0.0.1:$port
state_dir: $dir/state/$node
operator:
  socket: $dir/state/$node/director.sock
directors:
  - {id: alpha, address: 127.0.0.1:$p1}
  - {id: beta, address: 127.0.0.1:$p2}
arbiter: {id: arbiter, address: 127.0.0.1:$pa}
YAML
  done
  cmd=$(exec_start "$root" quorate-arbiter.service "$dir/arbiter.yaml") || return 1
  $cmd >"$dir/arbiter.log" 2>&1 &
  pids+=($!)
  for node in alpha beta; do
    cmd=$(exec_start "$root" quorate-director.service "$dir/$node.yaml") || return 1
    $cmd >"$dir/$node.log" 2>&1 &
    pids+=($!)
  done
}

# Asks both directors with the installed quoratectl until exactly one is the holder and both name
# it, or SECONDS pass.
wait_for_one_holder() { # ROOT DIR SECONDS
  local deadline=$((SECONDS + $3)) node roles holders
  while ((SECONDS < deadline)); do
    roles="" holders=""
    for node in alpha beta; do
      "$1/usr/bin/quoratectl" --endpoint "unix:$2/state/$node/director.sock" --timeout-ms 500 \
        status --json >"$2/$node.json" 2>/dev/null || continue
      read -r role holder < <(python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
print(s["role"], s["holder"] or "-")' "$2/$node.json")
      roles+="$node=$role " holders+="$holder "
    done
    if [[ $roles == "alpha=holder beta=standby " && $holders == "alpha alpha " ]] ||
      [[ $roles == "alpha=standby beta=holder " && $holders == "beta beta " ]]; then
      echo "one holder: $roles(holders named: $holders)"
      return 0
    fi
    sleep 0.2
  done
  echo "no single holder within $3 s: roles ${roles:-none answered}," \
    "holders named: ${holders:-none}"
  return 1
}

stop_cluster() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  pids=()
}

# --- build, then check ---------------------------------------------------------------------------
start=$SECONDS
if ! cpack --config "$build/CPackConfig.cmake" -B "$tmp/out" >"$tmp/cpack.log" 2>&1; then
  cat "$tmp/cpack.log"
  echo "cpack failed"
  exit 1
fi
deb=$(ls "$tmp"/out/quorate_*.deb)
echo "built $(basename "$deb") ($(stat -c %s "$deb") bytes) in $((SECONDS - start)) s"

if ((broken)); then
  # Copies of the package with one thing taken out each, rebuilt with dpkg-deb.
  repack() { # NAME EDIT...
    local name=$1
    shift
    rm -rf "$tmp/tree" && dpkg-deb -R "$deb" "$tmp/tree" && "$@" &&
      dpkg-deb --root-owner-group -Zgzip -z1 -b "$tmp/tree" "$tmp/$name.deb" >/dev/null
  }
  repack no-man rm "$tmp/tree/usr/share/man/man5/quorate.yaml.5.gz" || exit 1
  repack no-unit rm "$tmp/tree/usr/lib/systemd/system/quorate-director.service" || exit 1
  repack no-deps sh -c "sed -i '/^Depends:/d' '$tmp/tree/DEBIAN/control' &&
    rm '$tmp/tree/DEBIAN/postinst'" || exit 1
  fails=0
  out=$(check_contents "$tmp/no-man.deb")
  grep -q "package lacks ./usr/share/man/man5/quorate.yaml.5.gz" <<<"$out" || {
    echo "the missing man page was not reported: $out"
    fails=1
  }
  out=$(check_contents "$tmp/no-unit.deb")
  grep -q "package lacks ./usr/lib/systemd/system/quorate-director.service" <<<"$out" || {
    echo "the missing unit was not reported: $out"
    fails=1
  }
  out=$(check_info "$tmp/no-deps.deb")
  grep -q "Depends lacks libc6" <<<"$out" &&
    grep -q "control: no executable postinst" <<<"$out" || {
    echo "the missing Depends and postinst were not reported: $out"
    fails=1
  }
  dpkg-deb -x "$deb" "$tmp/root"
  for node in arbiter alpha beta; do make_key "$tmp/$node.secret"; done
  start_cluster "$tmp/root" "$tmp/c" "$tmp/arbiter.secret" "$tmp/alpha.secret" "$tmp/beta.secret" ||
    exit 1
  # Three keys: no two nodes can talk, nobody can hold. Quarantine is 1.8 s; 6 s is plenty.
  out=$(wait_for_one_holder "$tmp/root" "$tmp/c" 6)
  grep -q "no single holder" <<<"$out" || {
    echo "a cluster of three keys was not reported: $out"
    fails=1
  }
  stop_cluster
  ((fails == 0)) && echo "the dropped man page, unit, Depends and postinst and the keyless" \
    "cluster were reported, as they must be"
  exit $fails
fi

status=0
check_info "$deb" && echo "control: Depends $(dpkg-deb -f "$deb" Depends | tr -d '\n')" || status=1
check_contents "$deb" &&
  echo "contents: all ${#expected_files[@]} expected files, nothing outside /usr" || status=1
dpkg-deb -x "$deb" "$tmp/root" || exit 1
r=$tmp/root
"$here/version.sh" "$version" "$commit" "$protocol" "$r/usr/sbin/quorate-director" \
  "$r/usr/sbin/quorate-arbiter" "$r/usr/bin/quoratectl" || status=1
"$here/verify_units.sh" "$r/usr/lib/systemd/system" "$r/usr/sbin/quorate-director" \
  "$r/usr/sbin/quorate-arbiter"
case $? in
  0) ;;
  77) echo "(units not verified: no systemd-analyze)" ;;
  *) status=1 ;;
esac
# The same files, for other distributions: cmake --install into another prefix.
if cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log" 2>&1; then
  missing=0
  for f in "${expected_files[@]}"; do
    [[ -f $tmp/prefix/${f#./usr/} ]] || {
      echo "cmake --install --prefix: no ${f#./usr/}"
      missing=1
    }
  done
  ((missing)) && status=1 || echo "cmake --install --prefix: all ${#expected_files[@]} files"
else
  cat "$tmp/install.log"
  echo "cmake --install --prefix failed"
  status=1
fi
make_key "$tmp/cluster.secret"
start=$SECONDS
start_cluster "$r" "$tmp/c" "$tmp/cluster.secret" "$tmp/cluster.secret" "$tmp/cluster.secret" ||
  exit 1
if wait_for_one_holder "$r" "$tmp/c" 20; then
  echo "a holder after $((SECONDS - start)) s"
else
  status=1
  for f in arbiter alpha beta; do
    echo "--- $f.log"
    tail -20 "$tmp/c/$f.log"
  done
fi
stop_cluster
exit $status
