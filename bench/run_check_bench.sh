#!/usr/bin/env bash
# Real-server health-check benchmark (issue 5): N real servers (default 10,000) on loopback
# addresses 127.1.0.1 and up, each checked every second, HTTP then TCP; measures the checker
# process: CPU (% of one core, ms per 1,000 checks), RSS, checks per second actually done.
# Checkers: keepalived 2.2.7's (keepalived -C) and quorate's (quorate-check-bench, bench/
# check_bench.cc: --checkers "quorate keepalived"); see "Checkers" below.
#
#   bench/run_check_bench.sh RESULTS_DIR                        # keepalived, http and tcp, 10,000
#   bench/run_check_bench.sh --modes http --servers 1000 DIR    # a quick look
#   bench/run_check_bench.sh --checkers "quorate keepalived" DIR   # side by side
#
# Options: --servers N (10000), --modes "http tcp", --checkers "keepalived" (and/or quorate),
# --warmup S (10), --duration S (30), --port P (80), --ipvs auto|real|stub (auto), --nice N (-10;
# see Priority), --net loopback|veth (loopback; see Networks), --reuse N (10: the
# quorate-reuse checker's requests_per_connection).
#
# Checkers: keepalived; quorate (a new connection per check, keepalived's way); quorate-reuse
# (HTTP only: quorate with requests_per_connection N, up to N checks on one kept-alive
# connection; the targets then keep connections open, answering without Connection: close).
#
# Networks. loopback: the checker and the targets share one namespace and its `lo`, the targets
# on 127.1.0.1 and up. A packet sent on `lo` is received in the sender's own context, so the
# checker's process also pays for the targets' half of every TCP connection (their SYN/ACK, the
# accept queue, their FIN): work that real servers do on their own machines. veth: the checker
# runs in one namespace pinned to CPU 0, the targets in another pinned to CPU 1 (taskset), joined
# by a veth pair 198.18.0.1/24 - 198.18.0.2/24; the targets are on 198.19.0.1 and up (a local
# route for 198.19.0.0/16 in their namespace, a route via 198.18.0.2 in the checker's: one
# neighbour entry). Each veth end receives through threaded NAPI (GRO on, TSO off, `threaded`
# 1), its kernel thread pinned to its side's CPU: the packets each side receives are processed
# on its own CPU and in a thread of their own, as a NIC's interrupt would process them apart
# from the process. Then rx_cpu_pct is that thread's CPU on the checker's side (the checker's
# receive path), and core0_pct is CPU 0 as a whole from /proc/stat: the director's core. Needs
# 2 CPUs and ethtool.
#
# Priority: the checker and the targets each run in a session of their own (setsid), and so in a
# scheduler autogroup of their own where the kernel has autogroups (/proc/sys/kernel/
# sched_autogroup_enabled), whose nice is set to N; elsewhere they run under `nice -n N`. On a
# shared host other sessions' jobs (a build's compilers) otherwise take the CPU from them - each
# autogroup gets an equal share whatever its processes' own nice - and the checks fall behind
# waiting for a CPU (measured: 4,300 HTTP checks/s instead of 10,000 beside 9 compilers): the
# benchmark would measure the host's load, not the checker. --nice 0 turns this off.
#
# Each (checker, mode) runs in a fresh network namespace of its own (qchk<pid>-<k>, loopback only:
# no traffic leaves it, no port clashes with anything else on the host, TIME_WAIT state starts
# empty): bench/check_targets.cc (quorate-check-targets) listens on the N addresses and counts
# the answers it gives; its count is the number of checks done. The checker's CPU is utime+stime
# from /proc/PID/stat, sampled every second over the measured window (after the warm-up).
#
# IPVS: keepalived's checker will not start without it ("IPVS: Can't initialize ipvs"). Where
# the kernel has none (--ipvs auto finds neither /proc/net/ip_vs nor `modprobe ip_vs`), keepalived
# runs with a small LD_PRELOAD stub (written and compiled here, into RESULTS_DIR) that answers
# its IPVS socket options ([gs]etsockopt IP_VS_SO_*) with success and does nothing; keepalived
# 2.2.7 falls back to those socket options when the IPVS generic-netlink family is missing. With
# every real server up, the checker makes no IPVS call after its start, so the measured window
# is the same work either way; the stub is named in the results (ipvs=stub).
#
# In the test VM (tests/vm/run-in-vm.sh, which has IPVS) keepalived runs with the real one, but
# TCG makes everything 50-80 times slower there: 1,000 servers saturate the checker at ~240
# HTTP checks/s. The VM only shows that the checker programs IPVS (ipvs.txt) and checks alike.
#
# Results in RESULTS_DIR: summary.csv and summary.json (one row per checker and mode; log_lines:
# lines the checker logged during the measured window - state changes, failures - so 0 means
# every check passed), summary.md, samples-CHECKER-MODE.csv (one row per second),
# CHECKER-MODE.log (the checker's own log), targets-CHECKER-MODE.out, keepalived-MODE.conf.
# Needs root, ip (iproute2), /usr/sbin/keepalived, cc for the stub; builds nothing: build
# quorate-check-targets (and quorate-check-bench) first: ninja -C "$BUILD_DIR" quorate-check-targets
# Environment: BUILD_DIR (default build under the repo root).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$repo/build}
[[ $build == /* ]] || build=$PWD/$build
servers=10000
modes="http tcp"
checkers="keepalived"
warmup=10
duration=30
port=80
ipvs=auto
reuse=10
niceness=-10
net=loopback
results=
while [[ $# -gt 0 ]]; do
  case $1 in
    --servers) servers=$2; shift 2 ;;
    --modes) modes=$2; shift 2 ;;
    --checkers) checkers=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --ipvs) ipvs=$2; shift 2 ;;
    --nice) niceness=$2; shift 2 ;;
    --net) net=$2; shift 2 ;;
    --reuse) reuse=$2; shift 2 ;;
    -h|--help) sed -n '2,67p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    *) results=$1; shift ;;
  esac
done
[[ -n $results ]] || { echo "usage: $0 [options] RESULTS_DIR (see --help)" >&2; exit 2; }
[[ $(id -u) == 0 ]] || { echo "needs root (network namespaces)" >&2; exit 2; }
case $net in
  loopback) base=127.1.0.1 ;;
  veth)
    base=198.19.0.1
    (( $(nproc) >= 2 )) || { echo "--net veth needs 2 CPUs" >&2; exit 2; }
    command -v ethtool >/dev/null || { echo "--net veth needs ethtool" >&2; exit 2; } ;;
  *) echo "--net is loopback or veth, not '$net'" >&2; exit 2 ;;
esac
targets_bin=$build/bin/quorate-check-targets
[[ -x $targets_bin ]] || {
  echo "no $targets_bin: build it first (ninja -C $build quorate-check-targets)" >&2; exit 2; }
mkdir -p "$results"
results=$(cd "$results" && pwd)
hz=$(getconf CLK_TCK)

# ---------------------------------------------------------------------------------------------
# Clean-up: everything this script started, by PID; its namespaces by name.
declare -A stop_pids=()   # pid -> what (signalled with TERM, then KILL)
namespaces=()
stop_pid() {  # stop_pid PID [GRACE_SECONDS]
  local pid=$1 grace=${2:-10} i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < grace * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local pid
  for pid in "${!stop_pids[@]}"; do stop_pid "$pid" 10; done
  stop_pids=()
  for ns in "${namespaces[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  namespaces=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Runs "$@" in a session of its own at niceness N (see Priority above), in the background; the
# caller takes $!, which is COMMAND's PID: the function's subshell execs ip, ip execs setsid, and
# setsid does not fork (a background job of a script leads no process group).
prioritised() {  # prioritised NS CPU COMMAND... (CPU: "" for any)
  local ns=$1 cpu=$2
  shift 2
  if [[ -n $cpu ]]; then
    exec ip netns exec "$ns" taskset -c "$cpu" setsid nice -n "$niceness" "$@"
  fi
  exec ip netns exec "$ns" setsid nice -n "$niceness" "$@"
}
# After the start: its autogroup's nice, where there are autogroups. The autogroup belongs to the
# session (the checker child forked later shares it); first wait for setsid, lest this set the
# nice of the script's own autogroup.
set_autogroup_nice() {  # PID
  local pid=$1 i line rest
  [[ $(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null) == 1 ]] || return 0
  for ((i = 0; i < 100; i++)); do
    read -r line <"/proc/$pid/stat" 2>/dev/null || return 0
    rest=${line##*) }
    set -- $rest
    [[ $4 == "$pid" ]] && break  # field 6: the session
    sleep 0.02
  done
  [[ $4 == "$pid" ]] && echo "$niceness" >"/proc/$pid/autogroup" 2>/dev/null ||
    echo "warning: could not set the autogroup nice of $pid" >&2
}

# ---------------------------------------------------------------------------------------------
# The targets.
targets_pid=
targets_out=
start_targets() {  # start_targets NS CPU MODE OUT [--keep-alive]
  local ns=$1 cpu=$2 mode=$3 i
  targets_out=$4
  prioritised "$ns" "$cpu" "$targets_bin" --count "$servers" --base "$base" --port "$port" \
    --mode "$mode" ${5:-} >"$targets_out" 2>&1 &
  targets_pid=$!
  stop_pids[$targets_pid]=targets
  set_autogroup_nice "$targets_pid"
  for ((i = 0; i < 300; i++)); do
    if grep -q '^ready' "$targets_out"; then
      # It gets SIGUSR1s: make sure that $! is the targets themselves.
      [[ /proc/$targets_pid/exe -ef $targets_bin ]] && return 0
      echo "PID $targets_pid is not $targets_bin" >&2; return 1
    fi
    kill -0 "$targets_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "targets did not start:" >&2; cat "$targets_out" >&2; return 1
}
# The targets' answers so far (SIGUSR1 makes it print a "served" line).
targets_served() {
  local before i
  before=$(grep -c '^served' "$targets_out" || true)
  kill -USR1 "$targets_pid"
  for ((i = 0; i < 200; i++)); do
    (( $(grep -c '^served' "$targets_out" || true) > before )) && break
    sleep 0.01
  done
  grep '^served' "$targets_out" | tail -1 | awk '{ print $2 }'
}

# /proc/PID/stat: "utime stime" in clock ticks (fields 14 and 15; the name may hold spaces).
cpu_ticks() {
  local line rest
  read -r line <"/proc/$1/stat" || { echo "0 0"; return; }
  rest=${line##*) }
  set -- $rest
  echo "${12} ${13}"
}
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

# ---------------------------------------------------------------------------------------------
# Checkers. start_checker_NAME NS CPU MODE LOG starts the checker on the targets' N addresses (each
# every second, `port`, HTTP GET / expecting 200 or a TCP connect) and sets checker_pid (the
# process whose CPU and memory are measured), checker_stop_pid (the one to stop, with TERM) and
# checker_ipvs (real, stub or none: what it programs, for the results).
checker_pid=
checker_stop_pid=
checker_ipvs=

# keepalived's checker child (keepalived -C), on virtual servers 198.18.x.y:PORT of 10 real
# servers each (a configuration only: no packet goes to a virtual server).
keepalived_conf() {  # keepalived_conf MODE
  awk -v n="$servers" -v mode="$1" -v port="$port" -v base="$base" 'BEGIN {
    print "global_defs {\n  router_id quorate_check_bench\n}"
    split(base, b, ".")
    ip = ((b[1] * 256 + b[2]) * 256 + b[3]) * 256 + b[4]   # as quorate-check-targets counts
    per = 10; vs = 0
    for (i = 0; i < n; i++) {
      while (ip % 256 == 0 || ip % 256 == 255) ip++
      if (i % per == 0) {
        if (i) print "}"
        printf "virtual_server 198.18.%d.%d %d {\n  delay_loop 1\n  lb_algo rr\n  lb_kind DR\n" \
          "  protocol TCP\n", 16 + int(vs / 250), vs % 250 + 1, port
        vs++
      }
      printf "  real_server %d.%d.%d.%d %d {\n", int(ip / 16777216), int(ip / 65536) % 256,
        int(ip / 256) % 256, ip % 256, port
      if (mode == "http")
        print "    HTTP_GET {\n      url {\n        path /\n        status_code 200\n      }\n" \
          "      connect_timeout 3\n    }"
      else
        print "    TCP_CHECK {\n      connect_timeout 3\n    }"
      print "  }"
      ip++
    }
    if (n) print "}"
  }'
}

ipvs_stub=
keepalived_ipvs() {  # decides real or stub once; compiles the stub if needed
  [[ -n $ipvs_stub || $ipvs == real ]] && return 0
  if [[ $ipvs == auto ]]; then
    if [[ -e /proc/net/ip_vs ]] || modprobe -q ip_vs 2>/dev/null; then ipvs=real; return 0; fi
    ipvs=stub
  fi
  ipvs_stub=$results/ipvs-stub.so
  cat >"$results/ipvs-stub.c" <<'EOF'
// LD_PRELOAD stub for keepalived on a kernel without IPVS (bench/run_check_bench.sh): IPVS's
// socket options succeed and do nothing; every other call goes to libc.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#define IP_VS_BASE_CTL (64 + 1024 + 64)
#define IP_VS_SO_GET_INFO (IP_VS_BASE_CTL + 1)
static int ipvs_option(int level, int name) {
  return level == IPPROTO_IP && name >= IP_VS_BASE_CTL && name <= IP_VS_BASE_CTL + 15;
}
int setsockopt(int fd, int level, int name, const void *value, socklen_t length) {
  static int (*real)(int, int, int, const void *, socklen_t);
  if (ipvs_option(level, name)) return 0;
  if (!real) real = (int (*)(int, int, int, const void *, socklen_t))dlsym(RTLD_NEXT, "setsockopt");
  return real(fd, level, name, value, length);
}
int getsockopt(int fd, int level, int name, void *value, socklen_t *length) {
  static int (*real)(int, int, int, void *, socklen_t *);
  if (ipvs_option(level, name)) {
    memset(value, 0, *length);  /* no services, no destinations */
    if (name == IP_VS_SO_GET_INFO && *length >= 12) {
      uint32_t info[3] = {0x010201, 4096, 0};  /* version 1.2.1, table size, services */
      memcpy(value, info, sizeof info);
    }
    return 0;
  }
  if (!real) real = (int (*)(int, int, int, void *, socklen_t *))dlsym(RTLD_NEXT, "getsockopt");
  return real(fd, level, name, value, length);
}
EOF
  cc -O2 -shared -fPIC -o "$ipvs_stub" "$results/ipvs-stub.c" -ldl
}

start_checker_keepalived() {  # NS CPU MODE LOG
  local ns=$1 cpu=$2 mode=$3 log=$4 conf=$results/keepalived-$3.conf run i
  keepalived_ipvs
  checker_ipvs=$ipvs
  keepalived_conf "$mode" >"$conf"
  run=$(mktemp -d /tmp/qchk-keepalived.XXXXXX)
  # -C: the checker child only; -l -G: log to stdout (the log file) and not to syslog (with no
  # syslog daemon, syslog's LOG_CONS would write every line to the console, slowly).
  prioritised "$ns" "$cpu" env ${ipvs_stub:+LD_PRELOAD=$ipvs_stub} /usr/sbin/keepalived -n -l -G -C \
    -f "$conf" -p "$run/keepalived.pid" -c "$run/checkers.pid" >"$log" 2>&1 &
  checker_stop_pid=$!
  stop_pids[$checker_stop_pid]=keepalived
  set_autogroup_nice "$checker_stop_pid"  # before the fork of the checker child, which inherits it
  for ((i = 0; i < 300; i++)); do
    [[ -s $run/checkers.pid ]] && break
    kill -0 "$checker_stop_pid" 2>/dev/null || break
    sleep 0.1
  done
  checker_pid=$(cat "$run/checkers.pid" 2>/dev/null || true)
  rm -rf "$run"
  [[ /proc/$checker_stop_pid/exe -ef /usr/sbin/keepalived ]] || {
    echo "PID $checker_stop_pid is not keepalived" >&2; return 1; }
  [[ -n $checker_pid ]] && kill -0 "$checker_pid" 2>/dev/null || {
    echo "keepalived's checker did not start:" >&2; tail -20 "$log" >&2; return 1; }
}

# quorate's checker: bench/check_bench.cc (quorate-check-bench) on the same addresses, run
# until stopped (its own measurement is not used: it is measured here like keepalived).
start_checker_quorate() {  # NS CPU MODE LOG [REQUESTS_PER_CONNECTION]
  local ns=$1 cpu=$2 mode=$3 log=$4 bin=$build/bin/quorate-check-bench
  [[ -x $bin ]] || {
    echo "no $bin: build it first (ninja -C $build quorate-check-bench)" >&2; return 1; }
  checker_ipvs=none  # it checks only
  prioritised "$ns" "$cpu" "$bin" --count "$servers" --base "$base" --port "$port" \
    --type "$mode" --interval-ms 1000 --requests-per-connection "${5:-1}" \
    --timeout-ms 3000 --warmup-s 0 --seconds 86400 >"$log" 2>&1 &
  checker_pid=$!
  checker_stop_pid=$checker_pid
  stop_pids[$checker_pid]=quorate
  set_autogroup_nice "$checker_pid"
  sleep 0.5
  [[ /proc/$checker_pid/exe -ef $bin ]] || {
    echo "quorate-check-bench did not start:" >&2; tail -20 "$log" >&2; return 1; }
}

start_checker_quorate-reuse() {  # NS CPU MODE LOG
  start_checker_quorate "$@" "$reuse"
}

# ---------------------------------------------------------------------------------------------
# The network of one run (see Networks): sets checker_ns, targets_ns (the same for loopback) and
# the CPUs to pin them to.
checker_ns=
targets_ns=
checker_cpu=
targets_cpu=
checker_rx_pid=
targets_rx_pid=
# The newest NAPI kernel thread of a device ("napi/DEV-ID").
napi_thread() {  # DEV
  ps -eo pid=,comm= --sort=-pid | awk -v d="napi/$1-" 'index($2, d) == 1 { print $1; exit }'
}
new_namespace() {  # NAME
  ip netns add "$1"
  namespaces+=("$1")
  ip -n "$1" link set lo up
}
make_network() {
  local prefix=qchk$$-${#namespaces[@]}
  checker_ns=$prefix
  new_namespace "$checker_ns"
  if [[ $net == loopback ]]; then
    targets_ns=$checker_ns
    checker_cpu= targets_cpu= checker_rx_pid= targets_rx_pid=
    return 0
  fi
  targets_ns=$prefix-t
  new_namespace "$targets_ns"
  checker_cpu=0 targets_cpu=1
  ip link add qchkc netns "$checker_ns" type veth peer name qchkt netns "$targets_ns"
  ip -n "$checker_ns" addr add 198.18.0.1/24 dev qchkc
  ip -n "$targets_ns" addr add 198.18.0.2/24 dev qchkt
  ip -n "$checker_ns" link set qchkc up
  ip -n "$targets_ns" link set qchkt up
  ip -n "$checker_ns" route add 198.19.0.0/16 via 198.18.0.2
  ip -n "$targets_ns" route add local 198.19.0.0/16 dev lo
  # Threaded NAPI on each end (veth uses NAPI for TCP only without TSO), pinned to its side's CPU.
  ip netns exec "$checker_ns" ethtool -K qchkc gro on tso off >/dev/null
  ip netns exec "$targets_ns" ethtool -K qchkt gro on tso off >/dev/null
  # A queue in front of each end: with one, a full NAPI ring (256 packets) stops the queue
  # instead of dropping (kernels from 6.15), and a burst of connections waits, as at a NIC.
  ip netns exec "$checker_ns" tc qdisc replace dev qchkc root pfifo limit 10000
  ip netns exec "$targets_ns" tc qdisc replace dev qchkt root pfifo limit 10000
  ip netns exec "$checker_ns" sh -c 'echo 1 >/sys/class/net/qchkc/threaded'
  ip netns exec "$targets_ns" sh -c 'echo 1 >/sys/class/net/qchkt/threaded'
  checker_rx_pid=$(napi_thread qchkc)
  targets_rx_pid=$(napi_thread qchkt)
  [[ -n $checker_rx_pid && -n $targets_rx_pid ]] || { echo "no NAPI threads for the veth" >&2; return 1; }
  taskset -pc 0 "$checker_rx_pid" >/dev/null
  taskset -pc 1 "$targets_rx_pid" >/dev/null
}
# Packets the veth pair dropped so far, both ends (its NAPI rings hold 256 each; without the
# queue in front, a burst of connections beyond that is dropped and retransmitted); 0 on
# loopback.
veth_drops() {
  [[ $net == veth ]] || { echo 0; return; }
  echo $(( $(ip netns exec "$checker_ns" cat /sys/class/net/qchkc/statistics/tx_dropped) +
           $(ip netns exec "$targets_ns" cat /sys/class/net/qchkt/statistics/tx_dropped) ))
}
# /proc/stat: "busy total" jiffies of one CPU (busy: all but idle and iowait).
cpu_stat() {  # CPU
  awk -v c="cpu$1" '$1 == c { t = 0; for (i = 2; i <= 9; i++) t += $i; print t - $5 - $6, t }' \
    /proc/stat
}

# One run: targets and a checker in fresh namespaces; warm-up; one sample a second.
summary_csv=$results/summary.csv
columns=checker,mode,net,servers,ipvs,nice,duration_s,checks,checks_per_s,cpu_pct,user_pct
columns+=,sys_pct,cpu_ms_per_1k_checks,rss_kb,hwm_kb,targets_cpu_pct,rx_cpu_pct,core0_pct,core1_pct
columns+=,log_lines,startup_s,veth_drops
echo "$columns" >"$summary_csv"
run_one() {  # run_one CHECKER MODE
  local checker=$1 mode=$2 tag=$1-$2 t0 started log i
  make_network
  start_targets "$targets_ns" "$targets_cpu" "$mode" "$results/targets-$tag.out" \
    "$([[ $checker == quorate-reuse ]] && echo --keep-alive)"
  log=$results/$tag.log
  t0=$(date +%s.%N)
  "start_checker_$checker" "$checker_ns" "$checker_cpu" "$mode" "$log"
  # Started: the first answers have been given.
  local first
  for ((i = 0; i < 600; i++)); do
    first=$(targets_served)
    (( ${first:-0} > 0 )) && break
    sleep 0.1
  done
  started=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  echo "  $tag: first check after ${started} s; warm-up ${warmup} s, then ${duration} s" >&2
  sleep "$warmup"
  # With a real IPVS: what the checker put there (a check that it is the whole table).
  if [[ $ipvs == real ]] && command -v ipvsadm >/dev/null; then
    ip netns exec "$checker_ns" ipvsadm -Ln | awk -v tag="$tag" '
      /^TCP|^UDP/ { s++ } /->/ && !/RemoteAddress/ { d++ }
      END { printf "%s: IPVS after the warm-up: %d services, %d real servers\n", tag, s, d }' |
      tee -a "$results/ipvs.txt" >&2
  fi
  local log0 samples t_start now served cpu tcpu loglines c0 c1 rx drops0 drops
  log0=$(wc -l <"$log")
  drops0=$(veth_drops)
  samples=$results/samples-$tag.csv
  echo "t_s,served,checker_utime,checker_stime,targets_utime,targets_stime,rss_kb,hwm_kb" \
    ",cpu0_busy,cpu0_total,cpu1_busy,cpu1_total,rx_utime,rx_stime" | tr -d ' ' >"$samples"
  t_start=$(date +%s.%N)
  for ((i = 0; i <= duration; i++)); do
    # One sample at t_start + i s.
    now=$(date +%s.%N)
    sleep "$(awk -v s="$t_start" -v n="$now" -v i="$i" \
      'BEGIN { d = s + i - n; print (d > 0 ? d : 0) }')"
    kill -0 "$checker_pid" 2>/dev/null || { echo "  $tag: the checker died" >&2; return 1; }
    cpu=$(cpu_ticks "$checker_pid")
    tcpu=$(cpu_ticks "$targets_pid")
    served=$(targets_served)
    now=$(awk -v s="$t_start" -v n="$(date +%s.%N)" 'BEGIN { printf "%.3f", n - s }')
    c0=$(cpu_stat 0)
    c1=$(cpu_stat 1)
    rx="0 0"
    [[ -n $checker_rx_pid ]] && rx=$(cpu_ticks "$checker_rx_pid")
    echo "$now,$served,${cpu/ /,},${tcpu/ /,},$(status_kb "$checker_pid" VmRSS)," \
      "$(status_kb "$checker_pid" VmHWM),${c0/ /,},${c1/ /,},${rx/ /,}" | tr -d ' ' >>"$samples"
  done
  loglines=$(( $(wc -l <"$log") - log0 ))
  drops=$(( $(veth_drops) - drops0 ))
  awk -F, -v hz="$hz" -v c="$checker" -v m="$mode" -v n="$servers" -v ipvs="$checker_ipvs" \
    -v nice="$niceness" -v ll="$loglines" -v st="$started" -v net="$net" -v drops="$drops" '
    NR == 2 { t0 = $1; s0 = $2; u0 = $3; y0 = $4; g0 = $5 + $6; b0 = $9; a0 = $10; d0 = $11
              e0 = $12; r0 = $13 + $14 }
    NR > 1 { t = $1; s = $2; u = $3; y = $4; g = $5 + $6; rss = $7; hwm = $8; b = $9; a = $10
             d = $11; e = $12; r = $13 + $14 }
    END {
      dt = t - t0; checks = s - s0; user = (u - u0) / hz; sys = (y - y0) / hz; cpu = user + sys
      printf "%s,%s,%s,%d,%s,%d,%.1f,%d,%.0f,%.1f,%.1f,%.1f,%.1f,%d,%d,%.1f,%.1f,%.1f,%.1f,%d,%s,%d\n",
        c, m, net, n, ipvs, nice, dt, checks, checks / dt, 100 * cpu / dt, 100 * user / dt,
        100 * sys / dt, checks ? 1e6 * cpu / checks : 0, rss, hwm, 100 * (g - g0) / hz / dt,
        100 * (r - r0) / hz / dt,
        (a > a0 ? 100 * (b - b0) / (a - a0) : 0), (e > e0 ? 100 * (d - d0) / (e - e0) : 0), ll, st,
        drops
    }' "$samples" >>"$summary_csv"
  tail -1 "$summary_csv" >&2
  stop_pid "$checker_stop_pid" 20
  unset "stop_pids[$checker_stop_pid]"
  stop_pid "$checker_pid" 5  # in case its parent left it behind
  stop_pid "$targets_pid" 5
  unset "stop_pids[$targets_pid]"
  for ns in "${namespaces[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  namespaces=()
}

{
  echo "# Health-check benchmark, $(date -Is)"
  echo
  echo "- host: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- |
    sed 's/^ //'); kernel $(uname -r)"
  echo "- keepalived: $(/usr/sbin/keepalived --version 2>&1 | head -1)"
  echo "- network: $net; $servers real servers from $base, port $port, every 1 s;" \
    "warm-up $warmup s," \
    "measured $duration s; nice $niceness (autogroup:" \
    "$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null || echo no))"
  [[ " $checkers " == *" quorate-reuse "* ]] &&
    echo "- quorate-reuse: requests_per_connection $reuse (the targets keep connections open)"
  echo "- load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$results/summary.md"
for checker in $checkers; do
  declare -F "start_checker_$checker" >/dev/null || { echo "no checker '$checker'" >&2; exit 2; }
  for mode in $modes; do
    [[ $checker == quorate-reuse && $mode != http ]] && continue  # a TCP check keeps nothing
    echo "$checker $mode: $servers servers" >&2
    run_one "$checker" "$mode"
  done
done
{
  echo "- load after: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  echo "| checker | mode | net | IPVS | checks/s | CPU % of a core (user/sys) |" \
    "ms CPU per 1,000 checks | RSS / HWM (MB) | targets CPU % | checker rx CPU % |" \
    "CPU 0 / CPU 1 busy % | log lines | veth drops |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  awk -F, 'NR > 1 { printf "| %s | %s | %s | %s | %s | %s (%s/%s) | %s | %.1f / %.1f | %s |" \
    " %s | %s / %s | %s | %s |\n", $1, $2, $3, $5, $9, $10, $11, $12, $13, $14 / 1024,
    $15 / 1024, $16, $17, $18, $19, $20, $22 }' "$summary_csv"
} >>"$results/summary.md"
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) k[i] = $i; print "["; next }
  { printf "%s  {", (NR > 2 ? ",\n" : "")
    for (i = 1; i <= NF; i++) printf "%s\"%s\": %s", (i > 1 ? ", " : ""), k[i],
      ($i ~ /^-?[0-9.]+$/ ? $i : "\"" $i "\"")
    printf "}" }
  END { print "\n]" }' "$summary_csv" >"$results/summary.json"
cat "$results/summary.md"
