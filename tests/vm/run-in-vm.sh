#!/usr/bin/env bash
# Runs commands as root inside a qemu VM with Debian 12's stock kernel, in the host's file
# system (read-only; /run fresh; /tmp and /var/tmp writable overlays in guest memory), from the
# current directory. One boot runs them all. See docs/vm.md.
#
#   run-in-vm.sh [OPTIONS] -- CMD [ARG...]      one command
#   run-in-vm.sh [OPTIONS] --commands FILE      one shell command a line (# comments, blanks skipped)
#
# Options:
#   --timeout S       kill the VM after S seconds (default 1200)
#   --cmd-timeout S   kill one command after S seconds inside the VM (default: no limit)
#   --mem MB          guest memory (default 2048)      --smp N   guest CPUs (default 2)
#   --cache DIR       kernel and initramfs cache (default $QUORATE_VM_CACHE, else build/vm/kernel
#                     of the repository)
#   --results DIR     write the results there (emptied first) and keep them; default: a
#                     temporary directory under the cache, removed at the end
#   --accel A         tcg or kvm (default $QUORATE_VM_ACCEL, else tcg: nested KVM often exists
#                     but does not work, e.g. it hangs in the kernel's real-mode setup)
#   --quiet           print only the summary, not each command's output
#
# Results: for command N (1-based) N.out, N.rc, N.seconds; console.log (the serial console).
# Exit: 0 all commands exited 0; 1 some command failed; 2 usage; 3 the VM failed (no kernel,
# timeout, crash, init error); 77 no VM possible here (no qemu-system-x86_64 or busybox, not
# root, or QUORATE_VM=off), for ctest's SKIP_RETURN_CODE.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
timeout=1200 cmd_timeout=0 mem=2048 smp=2 quiet=0
accel=${QUORATE_VM_ACCEL:-tcg}
cache=${QUORATE_VM_CACHE:-$repo/build/vm/kernel}
results='' commands_file=''
command=()

usage() { sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0"; }
while (($#)); do
  case $1 in
    --timeout) timeout=$2; shift 2 ;;
    --cmd-timeout) cmd_timeout=$2; shift 2 ;;
    --mem) mem=$2; shift 2 ;;
    --smp) smp=$2; shift 2 ;;
    --cache) cache=$2; shift 2 ;;
    --results) results=$2; shift 2 ;;
    --accel) accel=$2; shift 2 ;;
    --commands) commands_file=$2; shift 2 ;;
    --quiet) quiet=1; shift ;;
    --) shift; command=("$@"); break ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run-in-vm: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
for v in "$timeout" "$cmd_timeout" "$mem" "$smp"; do
  [[ "$v" =~ ^[0-9]+$ ]] || { echo "run-in-vm: not a number: $v" >&2; exit 2; }
done
if [[ ${#command[@]} -eq 0 && -z "$commands_file" ]] || [[ ${#command[@]} -gt 0 && -n "$commands_file" ]]; then
  echo "run-in-vm: give either -- CMD [ARG...] or --commands FILE" >&2
  exit 2
fi

skip() { echo "run-in-vm: SKIP: $*" >&2; exit 77; }
[[ "${QUORATE_VM:-}" != off ]] || skip "QUORATE_VM=off"
[[ $(id -u) -eq 0 ]] || skip "needs root (the guest reads the whole host file system over 9p)"
qemu=$(command -v qemu-system-x86_64) || skip "qemu-system-x86_64 not found (apt-get install qemu-system-x86)"
command -v busybox >/dev/null || skip "busybox not found (apt-get install busybox-static)"

# The commands, one a line, before anything is booted.
list=$(mktemp)
trap 'rm -f "$list"' EXIT
if [[ -n "$commands_file" ]]; then
  grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' "$commands_file" >"$list" ||
    { echo "run-in-vm: no commands in $commands_file" >&2; exit 2; }
else
  printf '%q ' "${command[@]}" >"$list"
  echo >>"$list"
fi
count=$(wc -l <"$list")

# --results is emptied first, so it must be empty or an earlier run's results.
if [[ -n "$results" && -d "$results" && -n $(ls -A "$results") && ! -f "$results/vm.env" ]]; then
  echo "run-in-vm: --results $results is neither empty nor an earlier run's results; not touching it" >&2
  exit 2
fi

"$here/fetch-kernel.sh" "$cache" || { echo "run-in-vm: no kernel (fetch-kernel.sh $cache failed)" >&2; exit 3; }
"$here/make-initramfs.sh" "$cache" || { echo "run-in-vm: make-initramfs.sh $cache failed" >&2; exit 3; }
cache=$(cd "$cache" && pwd)
kver=$(<"$cache/kernel-release")

keep=1
if [[ -z "$results" ]]; then
  mkdir -p "$cache/runs"
  results=$(mktemp -d "$cache/runs/run.XXXXXX")
  keep=0
fi
mkdir -p "$results"
results=$(cd "$results" && pwd)
find "$results" -mindepth 1 -delete
qemu_pid=
# shellcheck disable=SC2317  # called by the trap
cleanup() {
  if [[ -n "$qemu_pid" ]] && kill -0 "$qemu_pid" 2>/dev/null; then
    kill "$qemu_pid" 2>/dev/null || true
    sleep 1
    kill -9 "$qemu_pid" 2>/dev/null || true
  fi
  rm -f "$list"
  ((keep)) || rm -rf "$results"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# What the guest's init reads (busybox sh and bash both source it): single-quoted values.
quote() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
for p in "$results" "$cache" "$PWD" "$here"; do
  [[ "$p" != *[[:space:]]* ]] || { echo "run-in-vm: paths with white space are not supported: $p" >&2; exit 2; }
done
cp "$list" "$results/commands"
{
  echo "QVM_RESULTS=$(quote "$results")"
  echo "QVM_MODULES=$(quote "$cache/root/lib/modules")"
  echo "QVM_SCRIPT=$(quote "$here/guest-run.sh")"
  echo "QVM_CWD=$(quote "$PWD")"
  echo "QVM_CMD_TIMEOUT=$cmd_timeout"
} >"$results/vm.env"

accel_args=()
case $accel in
  kvm) accel_args=(-accel kvm -cpu host) ;;
  tcg) accel_args=(-accel tcg -cpu max) ;;
  *) echo "run-in-vm: --accel takes tcg or kvm" >&2; exit 2 ;;
esac

# The uncompressed kernel boots straight into its PVH entry, and qboot is a much quicker
# firmware than SeaBIOS: together they save ~5 s of a TCG boot.
kernel=$cache/vmlinux
[[ -f "$kernel" ]] || kernel=$cache/root/boot/vmlinuz-$kver
firmware=()
qboot=$(dirname "$(readlink -f "$qemu")")/../share/qemu/qboot.rom
[[ -f "$qboot" ]] && firmware=(-bios "$qboot")

console=$results/console.log
qemu_args=(
  -nodefaults -no-user-config -display none -monitor none -no-reboot
  -M pc "${firmware[@]}" "${accel_args[@]}" -smp "$smp" -m "$mem"
  -kernel "$kernel" -initrd "$cache/initramfs.cpio.gz"
  -append "console=ttyS0 panic=-1 quiet loglevel=4 mitigations=off"
  -serial "file:$console"
  -device virtio-rng-pci
  -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap"
  -virtfs "local,path=$results,mount_tag=results,security_model=none"
)
echo "run-in-vm: booting Debian's $kver ($accel, $smp CPUs, $mem MB) for $count command(s); results in $results"
t0=$(date +%s%N)
# qemu dies with this script even when it is killed with SIGKILL (e.g. by ctest's timeout).
deathsig=()
command -v setpriv >/dev/null && deathsig=(setpriv --pdeathsig KILL --)
"${deathsig[@]}" "$qemu" "${qemu_args[@]}" >"$results/qemu.log" 2>&1 </dev/null &
qemu_pid=$!
deadline=$((SECONDS + timeout))
shown=0
timed_out=0
# Wait, echoing the guest's progress lines from the console as they come.
while kill -0 "$qemu_pid" 2>/dev/null; do
  if ((SECONDS >= deadline)); then
    timed_out=1
    kill "$qemu_pid" 2>/dev/null || true
    sleep 1
    kill -9 "$qemu_pid" 2>/dev/null || true
    break
  fi
  sleep 0.5
  if [[ -f "$console" ]]; then
    lines=$(wc -l <"$console")
    if ((lines > shown)); then
      sed -n "$((shown + 1)),${lines}p" "$console" | grep -a '^quorate-vm: ' || true
      shown=$lines
    fi
  fi
done
wait "$qemu_pid" 2>/dev/null || true
qemu_pid=
t1=$(date +%s%N)
if [[ -f "$console" ]]; then sed -n "$((shown + 1)),\$p" "$console" | grep -a '^quorate-vm: ' || true; fi

failed=0
for ((i = 1; i <= count; i++)); do
  cmd=$(sed -n "${i}p" "$results/commands")
  if [[ ! -f "$results/$i.rc" ]]; then
    echo "=== [$i/$count] $cmd: did not finish"
    failed=1
    if ((quiet)) && [[ -s "$results/$i.out" ]]; then
      echo "(its last output lines:)"
      tail -n 40 "$results/$i.out"
      continue
    fi
  else
    rc=$(<"$results/$i.rc")
    ((rc == 0)) || failed=1
    echo "=== [$i/$count] $cmd: exit $rc after $(<"$results/$i.seconds") s"
  fi
  if ((!quiet)) && [[ -f "$results/$i.out" ]]; then cat "$results/$i.out"; fi
done

wall() { printf '%d.%d' $((($2 - $1) / 1000000000)) $((($2 - $1) / 100000000 % 10)); }
if [[ -f "$results/ready" ]]; then
  ready=$(stat -c %.9Y "$results/ready" | tr -d .)
  echo "run-in-vm: ready to run after $(wall "$t0" "$ready") s, all done after $(wall "$t0" "$t1") s"
fi
if [[ ! -f "$results/done" ]]; then
  if ((timed_out)); then echo "run-in-vm: the VM did not finish within $timeout s; killed" >&2
  else echo "run-in-vm: the VM stopped before the commands finished" >&2; fi
  if [[ -f "$results/init-error" ]]; then sed 's/^/run-in-vm: guest init: /' "$results/init-error" >&2; fi
  echo "run-in-vm: last lines of the console ($console):" >&2
  tail -n 30 "$console" 2>/dev/null | sed 's/^/  /' >&2 || true
  sed 's/^/  qemu: /' "$results/qemu.log" >&2 || true
  exit 3
fi
exit "$failed"
