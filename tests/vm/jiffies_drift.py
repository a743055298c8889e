#!/usr/bin/env python3
# Measures how far jiffies (what nftables set timeouts count) drift from CLOCK_MONOTONIC, by hand.
# Both come from one read of /proc/timer_list: "now at" is read first, so a stall inside the read
# can only make jiffies look ahead, never behind. Usage: jiffies_drift.py HZ SECONDS [OUT]
# (Debian 12's kernel: HZ 250); e.g. in the VM beside a test:
#   tests/vm/run-in-vm.sh -- bash -c 'tests/vm/jiffies_drift.py 250 60 & build/bin/X; wait'
import re
import sys
import time


def sample(hz):
    try:
        with open("/proc/timer_list") as f:
            text = f.read()
    except OSError as e:
        sys.exit(f"jiffies_drift.py: cannot read /proc/timer_list (root needed): {e}")
    now = re.search(r"^now at (\d+) nsecs", text, re.M)
    jiffies = re.search(r"^jiffies: (\d+)", text, re.M)
    if not now or not jiffies:
        sys.exit("jiffies_drift.py: /proc/timer_list has no 'now at' or 'jiffies:' line")
    return int(jiffies.group(1)) * 1e9 / hz - int(now.group(1))


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: jiffies_drift.py HZ SECONDS [OUT]")
    try:
        hz, seconds = int(sys.argv[1]), float(sys.argv[2])
    except ValueError:
        sys.exit("jiffies_drift.py: HZ must be an integer and SECONDS a number")
    if hz <= 0 or seconds <= 0:
        sys.exit("jiffies_drift.py: HZ and SECONDS must be positive")
    out = open(sys.argv[3], "w") if len(sys.argv) == 4 else sys.stdout
    first = sample(hz)
    low = high = 0.0
    count = behind20 = 0
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        time.sleep(0.02)
        drift = (sample(hz) - first) / 1e6
        count += 1
        low, high = min(low, drift), max(high, drift)
        behind20 += drift < -20
    out.write(f"{count} samples: jiffies - CLOCK_MONOTONIC (from the first sample) "
              f"min {low:+.1f} ms, max {high:+.1f} ms; more than 20 ms behind in {behind20}\n")


if __name__ == "__main__":
    main()
