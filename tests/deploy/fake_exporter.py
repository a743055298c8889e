#!/usr/bin/env python3
"""A stand-in for the daemons' /metrics, for testing the dashboard preview without them.

Serves every metric of docs/metrics-names.txt for a two-director cluster "demo" and its arbiter,
at /alpha/metrics, /beta/metrics and /arbiter/metrics on 127.0.0.1. The numbers follow a
scripted story so that the panels have something to draw: alpha holds lease "default" until
--failover-after seconds after start, then beta holds it with a higher epoch; counters grow with
time. It is not a model of the daemons: only the names and labels are meant to be right.

  fake_exporter.py [--failover-after SECONDS] PORT_FILE
Binds port 0 and writes the port it got to PORT_FILE.
"""

import argparse
import http.server
import math
import time

START = time.monotonic()
CLUSTER = "demo"
LEASE = "default"
SERVICE = "198.18.0.10:80/tcp"
REALSERVERS = ("198.18.1.1:80", "198.18.1.2:80")


def lines_for(node, now, failover_after):
    """The exposition of one node at `now` seconds after start."""
    out = []

    def family(name, kind, samples):
        out.append(f"# HELP {name} fake, for the dashboard preview test")
        out.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            text = ",".join(f'{k}="{v}"' for k, v in labels.items())
            out.append(f"{name}{{{text}}} {value}")

    def histogram(name, labels, count, mean):
        out.append(f"# HELP {name} fake, for the dashboard preview test")
        out.append(f"# TYPE {name} histogram")
        bounds = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)
        base = ",".join(f'{k}="{v}"' for k, v in labels.items())
        for le in bounds:
            # An exponential distribution of the given mean, cumulated.
            cumulative = int(count * (1 - math.exp(-le / mean)))
            out.append(f'{name}_bucket{{{base},le="{le}"}} {cumulative}')
        out.append(f'{name}_bucket{{{base},le="+Inf"}} {count}')
        out.append(f"{name}_sum{{{base}}} {count * mean:.6f}")
        out.append(f"{name}_count{{{base}}} {count}")

    c = {"cluster": CLUSTER}
    cl = {"cluster": CLUSTER, "lease": LEASE}
    after = now >= failover_after
    holder = "beta" if after else "alpha"
    epoch = 8 if after else 7
    family("quorate_build_info", "gauge",
           [({"version": "0.16.0", "commit": "fake", "protocol": "3"}, 1)])
    if node == "arbiter":
        family("quorate_arbiter_lease_epoch", "gauge", [(cl, epoch)])
        family("quorate_arbiter_lease_holder", "gauge", [({**cl, "node": holder}, 1)])
        family("quorate_arbiter_lease_remaining_seconds", "gauge", [(cl, 1.7 - (now % 0.5))])
        family("quorate_arbiter_last_contact_seconds", "gauge",
               [({**c, "node": holder}, now % 0.5),
                ({**c, "node": "alpha" if after else "beta"}, now - (failover_after if after else 0))])
        requests = int(now * 6)
        family("quorate_arbiter_requests_total", "counter",
               [({**c, "outcome": "ok"}, requests), ({**c, "outcome": "refused"}, int(now / 20))])
        histogram("quorate_arbiter_request_duration_seconds", c, requests, 0.0004)
        return out
    holds = node == holder
    family("quorate_lease_holder", "gauge", [({**cl, "node": node}, int(holds))])
    family("quorate_lease_role", "gauge", [({**cl, "node": node}, 2 if holds else 0)])
    family("quorate_lease_epoch", "gauge", [(cl, epoch)])
    family("quorate_lease_remaining_seconds", "gauge", [(cl, 1.5 - (now % 0.5) if holds else 0)])
    renewals = int(now * 2) if holds else 0
    histogram("quorate_lease_renewal_duration_seconds", cl, renewals, 0.002 if node == "alpha" else 0.003)
    won = int(node == "alpha") + int(node == "beta" and after)
    family("quorate_elections_total", "counter",
           [({**cl, "outcome": "won"}, won), ({**cl, "outcome": "lost"}, int(node == "beta"))])
    family("quorate_lease_acquired_total", "counter", [(cl, won)])
    family("quorate_lease_lost_total", "counter",
           [({**cl, "reason": "expired"}, int(node == "alpha" and after))])
    family("quorate_quorum", "gauge", [({**c, "node": node}, 1)])
    other = "beta" if node == "alpha" else "alpha"
    family("quorate_peer_up", "gauge",
           [({**c, "node": node, "peer": other}, 1), ({**c, "node": node, "peer": "arbiter"}, 1)])
    histogram("quorate_fence_arm_duration_seconds", cl, renewals, 0.000014)
    # A fence error every 3 s on alpha: QuorateFenceErrors fires whenever the test looks.
    family("quorate_fence_errors_total", "counter", [(cl, int(now // 3) if node == "alpha" else 0)])
    family("quorate_announcements_total", "counter", [(cl, 5 if holds else 0)])
    family("quorate_hook_runs_total", "counter",
           [({**c, "hook": "notify_master", "outcome": "ok"}, won),
            ({**c, "hook": "pre_claim", "outcome": "failed"}, int(node == "beta"))])
    family("quorate_fence_agent_runs_total", "counter", [({**c, "outcome": "ok"}, int(node == "beta" and after))])
    up = [int(rs != REALSERVERS[1] or (now % 60) < 40) for rs in REALSERVERS]
    family("quorate_realserver_up", "gauge",
           [({**c, "service": SERVICE, "realserver": rs}, u) for rs, u in zip(REALSERVERS, up)])
    family("quorate_realserver_check_latency_seconds", "gauge",
           [({**c, "service": SERVICE, "realserver": rs}, 0.0008 + 0.0002 * i + 0.0001 * math.sin(now))
            for i, rs in enumerate(REALSERVERS)])
    family("quorate_realserver_transitions_total", "counter",
           [({**c, "service": SERVICE, "realserver": REALSERVERS[1], "to": "down"}, int(now // 60) + int(now % 60 >= 40)),
            ({**c, "service": SERVICE, "realserver": REALSERVERS[1], "to": "up"}, int(now // 60))])
    served = now - failover_after if after else now
    conns = int(served * 40) if holds else 0
    for name, per_conn in (("connections", 1), ("packets_in", 8), ("packets_out", 0), ("bytes_in", 900),
                           ("bytes_out", 0)):
        samples = [({**c, "service": SERVICE}, conns * per_conn)]
        samples += [({**c, "service": SERVICE, "realserver": rs}, conns * per_conn // 2) for rs in REALSERVERS]
        family(f"quorate_ipvs_{name}_total", "counter", samples)
    family("quorate_ipvs_active_connections", "gauge",
           [({**c, "service": SERVICE, "realserver": rs}, (20 + 5 * i) if holds else 0)
            for i, rs in enumerate(REALSERVERS)])
    family("quorate_ipvs_weight", "gauge",
           [({**c, "service": SERVICE, "realserver": rs}, 1 if u else 0) for rs, u in zip(REALSERVERS, up)])
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--failover-after", type=float, default=30.0)
    parser.add_argument("port_file")
    args = parser.parse_args()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the http.server API)
            node = self.path.strip("/").split("/")[0]
            if node not in ("alpha", "beta", "arbiter") or not self.path.endswith("/metrics"):
                self.send_error(404)
                return
            body = ("\n".join(lines_for(node, time.monotonic() - START, args.failover_after)) + "\n").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(args.port_file, "w", encoding="utf-8") as f:
        f.write(f"{server.server_address[1]}\n")
    server.serve_forever()


if __name__ == "__main__":
    main()
