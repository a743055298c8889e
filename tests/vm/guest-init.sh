#!/bin/sh
# shellcheck shell=sh
# /init of the test VM's initramfs (busybox sh; built by make-initramfs.sh, booted by run-in-vm.sh).
# 1. mounts proc, sys, dev; loads virtio-pci and 9p from the initramfs;
# 2. mounts the writable share "results" at /results and reads /results/vm.env, written by the
#    host: QVM_RESULTS (the share's path on the host), QVM_MODULES (the host path of the unpacked
#    kernel's lib/modules), QVM_SCRIPT (host path of the script to run,
#    with QVM_RESULTS as its argument);
# 3. mounts the host's root read-only (share "hostroot") at /mnt/host, puts the kernel's module
#    tree at /lib/modules (so the kernel's own module autoloading works too) and loads the
#    modules the tests need;
# 4. prepares /mnt/host as a root (proc, sys, dev, devpts, tmpfs on /tmp, /run, /var/tmp,
#    /run/netns, writable overlays on /tmp and /var/tmp; the results share over its host path),
#    brings up lo, runs QVM_SCRIPT there
#    with bash, as root;
# 5. powers off. Anything unexpected is reported on the console (the host's console.log).
set -u
PATH=/sbin:/bin:/usr/sbin:/usr/bin
export PATH

/bin/busybox mkdir -p /proc /sys /dev /usr/bin /usr/sbin /sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo 0 >/proc/sys/kernel/printk_ratelimit 2>/dev/null

say() { echo "quorate-vm: $*"; }
off() {
  sync
  echo o >/proc/sysrq-trigger 2>/dev/null
  poweroff -f
}
die() {
  say "FATAL: $*"
  [ -d /results ] && echo "$*" >>/results/init-error 2>/dev/null
  off
}

say "init up after $(cut -d' ' -f1 /proc/uptime) s"
for m in virtio_pci virtio_rng 9pnet_virtio 9p; do
  modprobe "$m" || die "cannot load module $m from the initramfs"
done

# 9p2000.L over virtio; a large msize makes reads of big test binaries far faster.
p9="trans=virtio,version=9p2000.L,msize=512000"
mount -t 9p -o "$p9" results /results || die "cannot mount the results share (9p tag results)"
[ -r /results/vm.env ] || die "no /results/vm.env (the host writes it)"
# shellcheck disable=SC1091
. /results/vm.env
: "${QVM_RESULTS:?}" "${QVM_MODULES:?}" "${QVM_SCRIPT:?}"

H=/mnt/host
# cache=loose: the host root is read-only for the run, so the guest may cache it freely.
mount -t 9p -o "$p9,ro,cache=loose" hostroot "$H" || die "cannot mount the host's root (9p tag hostroot)"
[ -d "$H$QVM_MODULES" ] || die "no kernel module tree at $QVM_MODULES on the host"
mount --bind "$H$QVM_MODULES" /lib/modules || die "cannot bind $QVM_MODULES to /lib/modules"

# Networking modules, in dependency order where busybox modprobe cannot know it: libcrc32c
# (ip_vs, nf_conntrack, nf_tables) wants a crc32c implementation (a soft dependency), and
# nf_conntrack's defrag helpers go first. Modules missing from this kernel are listed in
# /results/modules-missing; the tests say what they need.
mods="crc32c_generic libcrc32c nf_defrag_ipv4 nf_defrag_ipv6 nf_conntrack nf_nat
 ip_vs ip_vs_rr ip_vs_wrr ip_vs_lc ip_vs_wlc ip_vs_lblc ip_vs_lblcr ip_vs_dh ip_vs_sh
 ip_vs_sed ip_vs_nq ip_vs_fo ip_vs_ovf ip_vs_mh
 nfnetlink nf_tables nft_ct nft_chain_nat nft_nat nft_masq nft_redir nft_reject
 nft_reject_inet nft_reject_ipv4 nft_reject_ipv6 nft_fib nft_fib_inet nft_fib_ipv4 nft_fib_ipv6
 nft_limit nft_log nft_quota nft_numgen nft_hash nft_objref nft_compat
 veth bridge macvlan dummy tunnel4 ip_tunnel ipip ip6_tunnel overlay"
t0=$(cut -d' ' -f1 /proc/uptime)
# One modprobe for all (each run parses modules.dep, ~0.5 MB), then see what is missing.
# shellcheck disable=SC2086
modprobe -a $mods 2>/dev/null
: >/results/modules-missing
for m in $mods; do
  [ -d "/sys/module/$m" ] || grep -q "/$m.ko\$" "/lib/modules/$(uname -r)/modules.builtin" ||
    echo "$m" >>/results/modules-missing
done
say "modules loaded in $(awk -v t0="$t0" '{print $1 - t0}' /proc/uptime) s" \
  "(missing: $(tr '\n' ' ' </results/modules-missing))"

# The host's root as the tests' root: fresh kernel file systems, writable scratch space, and
# the results share at its host path so the tests write their results where the host expects.
mount -t proc proc "$H/proc" || die "cannot mount proc in the host root"
mount -t sysfs sysfs "$H/sys" || die "cannot mount sysfs in the host root"
mount -t cgroup2 cgroup2 "$H/sys/fs/cgroup" 2>/dev/null
mount -t devtmpfs devtmpfs "$H/dev" || die "cannot mount devtmpfs in the host root"
mkdir -p "$H/dev/pts" "$H/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666 devpts "$H/dev/pts"
mount -t tmpfs -o mode=1777 tmpfs "$H/dev/shm"
# /tmp and /var/tmp: the host's files stay visible (a checkout or build tree may live there)
# under a writable overlay in guest memory; a plain tmpfs if overlayfs refuses.
mkdir -p /scratch
mount -t tmpfs -o mode=755 tmpfs /scratch
for d in /tmp /var/tmp; do
  o=/scratch${d}
  mkdir -p "$o/upper" "$o/work"
  chmod 1777 "$o/upper"
  mount -t overlay overlay -o "lowerdir=$H$d,upperdir=$o/upper,workdir=$o/work" "$H$d" ||
    mount -t tmpfs -o mode=1777 tmpfs "$H$d" || die "cannot mount a scratch file system on $d"
done
mount -t tmpfs -o mode=755 tmpfs "$H/run" || die "cannot mount a tmpfs on /run"
mkdir -p "$H/run/netns" "$H/run/lock"
# /var/run is a link to /run on Debian; if it is a directory, give it its own tmpfs.
[ -L "$H/var/run" ] || mount -t tmpfs -o mode=755 tmpfs "$H/var/run"
# (mkdir: in case the results live under /run, a fresh tmpfs)
mkdir -p "$H$QVM_RESULTS" 2>/dev/null
mount --bind /results "$H$QVM_RESULTS" || die "cannot bind the results share to $QVM_RESULTS"
ip link set lo up
hostname quorate-vm

say "running $QVM_SCRIPT at $(cut -d' ' -f1 /proc/uptime) s"
chroot "$H" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 QUORATE_IN_VM=1 \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  /bin/bash "$QVM_SCRIPT" "$QVM_RESULTS"
say "script finished with $? at $(cut -d' ' -f1 /proc/uptime) s; powering off"
umount "$H$QVM_RESULTS" 2>/dev/null
umount /results 2>/dev/null
off
