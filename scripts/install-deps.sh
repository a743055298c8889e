#!/usr/bin/env bash
# Installs quorate's build and test dependencies from Debian 12 packages; idempotent.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  protobuf-compiler protobuf-compiler-grpc libprotobuf-dev libgrpc++-dev
  libboost-dev libboost-system-dev libssl-dev openssl
  libnl-3-dev libnl-route-3-dev libnl-genl-3-dev
  libspdlog-dev libfmt-dev libyaml-cpp-dev nlohmann-json3-dev libcli11-dev
  libgtest-dev libgmock-dev
  iproute2 procps nftables libnftables-dev bridge-utils
  keepalived tshark arping gnuplot-nox tcpdump spin
  qemu-system-x86 busybox-static ipvsadm xz-utils util-linux
  # fence_ipmilan and the other standard agents, for the fencing tests: one package on Debian 12
  # (4.12.1), which pulls 28 Python packages (about 93 MB, 79 of them python3-botocore for the
  # cloud agents) even without recommends
  fence-agents
  # systemd-analyze verify of deploy/systemd (binutils' readelf, for the hardening check, comes
  # with build-essential)
  systemd
  # the man pages of docs/man (rendered at build time, checked with man-db's groff) and the
  # Debian package (dpkg-shlibdeps computes its Depends; its test reads status JSON with python3)
  scdoc man-db dpkg-dev python3
  # sd_notify (readiness, watchdog) and the journal sink of both daemons
  libsystemd-dev
  # the fuzzing build (scripts/fuzz.sh): clang with libFuzzer and the sanitizer runtimes
  clang-14 libclang-rt-14-dev
  # promtool: the tests of deploy/prometheus and deploy/grafana, and the live /metrics scrapes of
  # the process tests; Prometheus itself for scripts/dashboard-shot.sh (a host booted with systemd
  # starts Debian's prometheus.service on :9090 at install: `systemctl disable --now prometheus`)
  prometheus
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  if [[ $(id -u) -ne 0 ]]; then
    echo "need root to install packages (run with sudo)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The grpc-js interoperability test's packages (tests/js), from its lock file, when npm is here.
if command -v npm >/dev/null 2>&1; then
  npm ci --ignore-scripts --no-audit --no-fund --prefix "$(dirname "$0")/../tests/js"
fi
