#!/usr/bin/env bash
# Usage: make-initramfs.sh CACHE_DIR
# Builds CACHE_DIR/initramfs.cpio.gz for the kernel fetch-kernel.sh put into CACHE_DIR: the
# static busybox, guest-init.sh as /init, and the modules needed to reach the host over virtio
# 9p (with their dependencies from modules.dep). Every other module is loaded later from the
# unpacked kernel tree over 9p. Rebuilt only when an input is newer than the archive.
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 CACHE_DIR" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
cache=$(cd "$1" && pwd)
out=$cache/initramfs.cpio.gz
kver=$(cat "$cache/kernel-release" 2>/dev/null) ||
  { echo "make-initramfs: no kernel in $cache (run fetch-kernel.sh first)" >&2; exit 1; }
moddir=$cache/root/lib/modules/$kver
busybox=$(command -v busybox) || { echo "make-initramfs: busybox not found (apt-get install busybox-static)" >&2; exit 1; }
if ldd "$busybox" >/dev/null 2>&1; then
  echo "make-initramfs: $busybox is dynamically linked; the initramfs needs busybox-static" >&2
  exit 1
fi

exec 9>"$cache/.lock"
flock 9

if [[ -f "$out" && "$out" -nt "$here/guest-init.sh" && "$out" -nt "$0" &&
      "$out" -nt "$cache/kernel-release" && "$out" -nt "$busybox" ]]; then
  exit 0
fi

# The modules to mount the host's file systems, in load order, plus the entropy source.
boot_modules=(virtio_pci virtio_rng 9pnet_virtio 9p)

stage=$(mktemp -d "$cache/initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,sbin,dev,proc,sys,tmp,mnt/host,results,lib/modules/"$kver"}

# The module files and their dependencies, as modules.dep names them (paths relative to moddir).
declare -A files=()
for m in "${boot_modules[@]}"; do
  pattern=${m//[-_]/[-_]}
  line=$(grep -E "(^|/)${pattern}\.ko:" "$moddir/modules.dep" || true)
  if [[ -z "$line" ]]; then
    if grep -qE "(^|/)${pattern}\.ko$" "$moddir/modules.builtin"; then continue; fi
    echo "make-initramfs: module $m is neither in modules.dep nor built in ($kver)" >&2
    exit 1
  fi
  for f in ${line/:/}; do files[$f]=1; done
done
for f in "${!files[@]}"; do
  mkdir -p "$stage/lib/modules/$kver/$(dirname "$f")"
  cp "$moddir/$f" "$stage/lib/modules/$kver/$f"
done
# modules.dep restricted to the copied modules, so busybox modprobe resolves them.
while IFS= read -r line; do
  [[ -n "${files[${line%%:*}]:-}" ]] && printf '%s\n' "$line"
done <"$moddir/modules.dep" >"$stage/lib/modules/$kver/modules.dep"
cp "$moddir/modules.builtin" "$stage/lib/modules/$kver/"

cp "$busybox" "$stage/bin/busybox"
cp "$here/guest-init.sh" "$stage/init"
chmod 755 "$stage/init" "$stage/bin/busybox"
ln -s busybox "$stage/bin/sh"

(cd "$stage" && find . -mindepth 1 | busybox cpio -o -H newc -R 0:0 2>/dev/null | gzip -1) >"$out.tmp"
mv "$out.tmp" "$out"
