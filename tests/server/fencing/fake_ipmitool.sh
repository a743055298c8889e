#!/bin/sh
# A stand-in for ipmitool, for the fence agent tests: answers `chassis power status|on|off|cycle`
# the way ipmitool does over IPMI-over-LAN, with the chassis state kept in files next to this
# script (each test copies it into its own directory):
#   power        on|off, the chassis state (on when absent)
#   credentials  "user password" the BMC accepts (anything when absent)
#   mode         ok (absent) | fail (no session, exit 1) | hang (never answers) |
#                block (records the caller, then waits for a file `release`)
#   calls        appended, one line per call: host user password command
#   agent.pid    the caller's pid (the fence agent); ipmitool.pid: this one's
set -u
dir=$(dirname "$0")
host='' user='' pass=''
while [ $# -gt 0 ]; do
  case $1 in
    -H) host=$2; shift 2 ;;
    -U) user=$2; shift 2 ;;
    -P) pass=$2; shift 2 ;;
    -I | -p | -L | -A | -C | -t | -y | -N) shift 2 ;;
    chassis) break ;;
    *) shift ;;
  esac
done
[ "${1:-}" = chassis ] && [ "${2:-}" = power ] || {
  echo "fake ipmitool: unsupported command: $*" >&2
  exit 1
}
command=${3:-}
echo "$host $user $pass $command" >> "$dir/calls"
echo $PPID > "$dir/agent.pid"
echo $$ > "$dir/ipmitool.pid"
mode=$(cat "$dir/mode" 2>/dev/null || echo ok)
case $mode in
  fail)
    echo "Error: Unable to establish IPMI v2 / RMCP+ session" >&2
    exit 1 ;;
  hang)
    exec sleep 600 ;;
  block)
    while [ ! -e "$dir/release" ]; do sleep 0.05; done ;;
esac
if [ -e "$dir/credentials" ] && [ "$user $pass" != "$(cat "$dir/credentials")" ]; then
  echo "Error: Unable to establish IPMI v2 / RMCP+ session" >&2
  exit 1
fi
power=$(cat "$dir/power" 2>/dev/null || echo on)
case $command in
  status) echo "Chassis Power is $power" ;;
  off) echo off > "$dir/power"; echo "Chassis Power Control: Down/Off" ;;
  on) echo on > "$dir/power"; echo "Chassis Power Control: Up/On" ;;
  cycle) echo on > "$dir/power"; echo "Chassis Power Control: Cycle" ;;
  *) echo "fake ipmitool: unsupported: chassis power $command" >&2; exit 1 ;;
esac
