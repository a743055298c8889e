#!/usr/bin/env bash
# Usage: fetch-kernel.sh CACHE_DIR
# Puts Debian 12's stock kernel (the package linux-image-amd64 depends on) into CACHE_DIR,
# unpacked: CACHE_DIR/root/boot/vmlinuz-KVER and CACHE_DIR/root/lib/modules/KVER (with a
# modules.dep from busybox depmod; Debian 12 ships plain .ko files), and CACHE_DIR/vmlinux, the
# uncompressed kernel (an ELF with a PVH entry) that qemu boots directly: under TCG this saves
# the ~4 s the kernel's own xz decompression and real-mode setup take. CACHE_DIR/kernel-release
# holds KVER and is written last, so its presence means the cache is complete. Idempotent: a
# complete cache is used as it is, without asking the package registry.
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 CACHE_DIR" >&2
  exit 2
fi
cache=$1
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

# One fetch at a time per cache (a by-hand run and ctest may start together).
exec 9>"$cache/.lock"
flock 9

if [[ -s "$cache/kernel-release" ]]; then
  kver=$(<"$cache/kernel-release")
  if [[ -f "$cache/root/boot/vmlinuz-$kver" && -f "$cache/root/lib/modules/$kver/modules.dep" ]]; then
    exit 0
  fi
fi
rm -f "$cache/kernel-release"

for tool in apt-get apt-cache dpkg busybox; do
  command -v "$tool" >/dev/null || { echo "fetch-kernel: $tool not found (a Debian 12 host is needed)" >&2; exit 1; }
done

# linux-image-amd64 is a metapackage; the kernel is in the linux-image-6.1.0-N-amd64 it depends on.
kernelPackage() {
  apt-cache depends linux-image-amd64 2>/dev/null |
    sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -1
}
pkg=$(kernelPackage)
if [[ -z "$pkg" ]]; then
  # No package lists yet (a fresh image): fetch them once.
  if [[ $(id -u) -eq 0 ]]; then
    apt-get update -qq >/dev/null 2>&1 || true
    pkg=$(kernelPackage)
  fi
fi
if [[ -z "$pkg" ]]; then
  echo "fetch-kernel: apt knows no linux-image-amd64 (run apt-get update; is Debian's registry reachable?)" >&2
  exit 1
fi
kver=${pkg#linux-image-}

dl=$(mktemp -d "$cache/download.XXXXXX")
trap 'rm -rf "$dl"' EXIT
echo "fetch-kernel: downloading $pkg into $cache" >&2
# The sandbox user _apt may not write here (a build tree); we only download, so no sandbox.
if ! (cd "$dl" && apt-get download -qq -o APT::Sandbox::User=root "$pkg" >/dev/null); then
  echo "fetch-kernel: apt-get download $pkg failed (is Debian's registry reachable?)" >&2
  exit 1
fi
deb=$(ls "$dl"/*.deb)
rm -rf "$cache/root"
mkdir -p "$dl/root"
dpkg -x "$deb" "$dl/root"
rm -f "$deb"
if [[ ! -f "$dl/root/boot/vmlinuz-$kver" || ! -d "$dl/root/lib/modules/$kver" ]]; then
  echo "fetch-kernel: $pkg has no boot/vmlinuz-$kver or lib/modules/$kver" >&2
  exit 1
fi
# Compressed modules (later Debian releases) are unpacked so busybox's insmod can read them.
find "$dl/root/lib/modules/$kver" -name '*.ko.xz' -exec busybox unxz {} +
if [[ -n $(find "$dl/root/lib/modules/$kver" -name '*.ko.zst' -print -quit) ]]; then
  command -v zstd >/dev/null || { echo "fetch-kernel: zstd-compressed modules need zstd" >&2; exit 1; }
  find "$dl/root/lib/modules/$kver" -name '*.ko.zst' -exec zstd -q -d --rm {} +
fi
busybox depmod -b "$dl/root" "$kver"

# vmlinux: the payload of the bzImage, which is xz-compressed in Debian's kernels (x86 BCJ
# filter, so busybox unxz cannot do it; xz stops with an error at the data after the stream).
rm -f "$cache/vmlinux"
vmlinuz=$dl/root/boot/vmlinuz-$kver
offset=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$vmlinuz" | head -1 | cut -d: -f1 || true)
if [[ -z "$offset" ]] || ! command -v xz >/dev/null; then
  echo "fetch-kernel: no xz stream in $vmlinuz or no xz (apt-get install xz-utils); booting the bzImage (slower)" >&2
else
  tail -c +"$((offset + 1))" "$vmlinuz" | xz -dc 2>/dev/null >"$dl/vmlinux" || true
  if [[ $(head -c 4 "$dl/vmlinux" | od -An -tx1 | tr -d ' ') == 7f454c46 ]]; then
    mv "$dl/vmlinux" "$cache/vmlinux"
  else
    echo "fetch-kernel: could not unpack vmlinux from $vmlinuz; booting the bzImage (slower)" >&2
  fi
fi
mv "$dl/root" "$cache/root"
echo "$kver" >"$cache/kernel-release"
