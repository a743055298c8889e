#!/usr/bin/env bash
# Renders the Grafana dashboard (deploy/grafana/quorate-dashboard.json) without Grafana, to a PNG:
# a loopback cluster with its metrics endpoints on, Debian's Prometheus scraping it, a failover,
# then deploy/grafana/preview/ drawing every panel's queries, photographed by headless Chromium.
# Grafana is not packaged in Debian 12; see docs/dashboard.md.
#
#   scripts/dashboard-shot.sh [--out FILE] [--bin DIR] [--settle S] [--down S] [--after S]
#                             [--scrape S]
#   scripts/dashboard-shot.sh --fixture [--check [--broken]] [--out FILE]
#
# Live (default): the loopback example (deploy/examples/loopback) on free ports, each daemon with
# `metrics: {listen: 127.0.0.1:PORT}`; after --settle seconds (60) the holder is killed with
# SIGKILL, restarted --down seconds later (30; the preferred director then takes the lease back
# after its preempt delay), and the picture is taken --after seconds after that (30). Prometheus
# scrapes and evaluates the alert rules every --scrape seconds (1; the rules are written for 5).
# --fixture: a scripted stand-in exporter (tests/deploy/fake_exporter.py) instead of the daemons,
# with a failover after a few seconds; for working on the renderer.
# --check: instead of a picture, read the rendered page and fail unless every panel drew at least
# one series without error and every alert rule evaluated without error. --broken (with --check):
# the control; a panel's query is made to match nothing and an alert rule to join many-to-many,
# and the check must report exactly those two (exit 0 when it did).
# Needs: prometheus, chromium, python3, curl. Everything listens on 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."

out=docs/dashboard.png bin=build/bin settle=60 down=30 after=30 scrape=1
fixture=0 check=0 broken=0
while (($#)); do
  case $1 in
    --out) out=$2; shift ;;
    --bin) bin=$2; shift ;;
    --settle) settle=$2; shift ;;
    --down) down=$2; shift ;;
    --after) after=$2; shift ;;
    --scrape) scrape=$2; shift ;;
    --fixture) fixture=1 ;;
    --check) check=1 ;;
    --broken) broken=1 ;;
    *) echo "dashboard-shot.sh: unknown argument $1 (see the comment at the top)" >&2; exit 2 ;;
  esac
  shift
done
if ((broken && !check)); then
  echo "dashboard-shot.sh: --broken goes with --check" >&2
  exit 2
fi
for tool in prometheus chromium python3 curl; do
  if ! command -v "$tool" >/dev/null; then
    echo "dashboard-shot.sh: $tool is not installed (Debian: apt-get install prometheus chromium)" >&2
    exit 77
  fi
done

run=$(mktemp -d /tmp/quorate-dashboard.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

freePort() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# Polls a URL until it answers 200, `seconds` pass, or process `pid` (if given) has exited.
waitFor() {
  local url=$1 seconds=$2 pid=${3:-}
  for _ in $(seq $((seconds * 10))); do
    curl -sf -o /dev/null "$url" && return 0
    [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null && return 1
    sleep 0.1
  done
  return 1
}

mkdir -p "$run/assets" "$run/tsdb"
cp deploy/grafana/preview/index.html deploy/grafana/preview/preview.js "$run/assets/"
cp deploy/grafana/quorate-dashboard.json "$run/assets/"
if ((broken)); then
  # The first query's cluster matcher names no cluster: that panel must come out empty.
  planted=$(python3 - "$run/assets/quorate-dashboard.json" <<'EOF'
import json, sys
path = sys.argv[1]
d = json.load(open(path))
target = next(p for p in d["panels"] if p.get("targets"))["targets"][0]
assert 'cluster="$cluster"' in target["expr"], target["expr"]
target["expr"] = target["expr"].replace('cluster="$cluster"', 'cluster="no-such-cluster"')
json.dump(d, open(path, "w"))
print(next(p for p in d["panels"] if p.get("targets"))["title"])
EOF
  )
fi
cp deploy/prometheus/quorate-alerts.yml "$run/"
if ((broken)); then
  # And one alert rule joins many-to-many: it loads, but every evaluation fails.
  sed -i 's/^        expr: quorate_quorum == 0$/        expr: quorate_quorum * on (cluster) group_left quorate_peer_up == 0/' \
    "$run/quorate-alerts.yml"
  grep -q 'quorate_quorum \* on (cluster)' "$run/quorate-alerts.yml"
fi

# Scrapes every second by default: the run is minutes long and a failover lasts seconds. The job
# names are those of deploy/prometheus/prometheus.yml, which the dashboard's "Scrapes" panel and
# the alert rules select.
promPort=$(freePort)
scrapeConfig() {  # job instance port path
  printf '  - job_name: %s-%s\n    metrics_path: %s\n    static_configs:\n' "$1" "$2" "$4"
  printf '      - targets: ["127.0.0.1:%s"]\n        labels: {instance: "%s", job: "%s"}\n' \
    "$3" "$2" "$1"
}

if ((fixture)); then
  python3 tests/deploy/fake_exporter.py --failover-after 6 "$run/exporter.port" &
  pids+=($!)
  for _ in $(seq 50); do [[ -s $run/exporter.port ]] && break; sleep 0.1; done
  port=$(cat "$run/exporter.port")
  {
    echo "scrape_configs:"
    scrapeConfig quorate-director alpha "$port" /alpha/metrics
    scrapeConfig quorate-director beta "$port" /beta/metrics
    scrapeConfig quorate-arbiter arbiter "$port" /arbiter/metrics
  } >"$run/scrape.yml"
else
  for b in quorate-arbiter quorate-director quoratectl; do
    if [[ ! -x $bin/$b ]]; then
      echo "dashboard-shot.sh: $bin/$b is missing; build first: bash scripts/build.sh" \
        "quorate-arbiter quorate-director quoratectl" >&2
      exit 1
    fi
  done
  # The loopback example, moved to free ports and a private state directory, metrics on.
  declare -A peer metrics
  for node in arbiter alpha beta; do
    peer[$node]=$(freePort)
    metrics[$node]=$(freePort)
  done
  for node in arbiter alpha beta; do
    sed -e "s#127.0.0.1:7100#127.0.0.1:${peer[arbiter]}#g" \
      -e "s#127.0.0.1:7101#127.0.0.1:${peer[alpha]}#g" \
      -e "s#127.0.0.1:7102#127.0.0.1:${peer[beta]}#g" \
      -e "s#/tmp/quorate-demo#$run/state#g" \
      "deploy/examples/loopback/$node.yaml" >"$run/$node.yaml"
    printf 'metrics:\n  listen: 127.0.0.1:%s\n' "${metrics[$node]}" >>"$run/$node.yaml"
    # A notify program on every transition, so that the hook panel has runs to show (as root it
    # runs as the script user; otherwise it cannot switch user and its runs show as failed).
    if [[ $node != arbiter ]]; then printf 'hooks:\n  notify: /bin/true\n' >>"$run/$node.yaml"; fi
  done
  sh scripts/make-secret.sh "$run/demo.secret" >/dev/null
  declare -A pidOf
  start() {
    local node=$1 program=quorate-director
    [[ $node == arbiter ]] && program=quorate-arbiter
    "$bin/$program" --config "$run/$node.yaml" >>"$run/$node.log" 2>&1 &
    pids+=($!)
    pidOf[$node]=$!
  }
  for node in arbiter alpha beta; do start "$node"; done
  for node in arbiter alpha beta; do
    if ! waitFor "http://127.0.0.1:${metrics[$node]}/metrics" 10 "${pidOf[$node]}"; then
      echo "dashboard-shot.sh: $node serves no metrics on 127.0.0.1:${metrics[$node]}." >&2
      if ! kill -0 "${pidOf[$node]}" 2>/dev/null; then
        echo "It exited; a build without the metrics endpoint rejects the \`metrics\` key:" >&2
      fi
      tail -5 "$run/$node.log" >&2
      exit 1
    fi
  done
  {
    echo "scrape_configs:"
    for node in alpha beta; do scrapeConfig quorate-director "$node" "${metrics[$node]}" /metrics; done
    scrapeConfig quorate-arbiter arbiter "${metrics[arbiter]}" /metrics
  } >"$run/scrape.yml"
fi

{
  printf 'global: {scrape_interval: %ss, scrape_timeout: 1s, evaluation_interval: %ss}\n' \
    "$scrape" "$scrape"
  printf 'rule_files: [quorate-alerts.yml]\n'
  cat "$run/scrape.yml"
} >"$run/prometheus.yml"
prometheus --config.file="$run/prometheus.yml" --storage.tsdb.path="$run/tsdb" \
  --web.listen-address="127.0.0.1:$promPort" --web.user-assets="$run/assets" \
  >"$run/prometheus.log" 2>&1 &
pids+=($!)
prom=http://127.0.0.1:$promPort
if ! waitFor "$prom/-/ready" 30; then
  echo "dashboard-shot.sh: prometheus did not start:" >&2
  tail -5 "$run/prometheus.log" >&2
  exit 1
fi
t0=$(date +%s)
echo "prometheus on $prom (files in $run)"

# The node that holds lease "default", as Prometheus last scraped it.
holder() {
  curl -sf "$prom/api/v1/query" --data-urlencode 'query=quorate_lease_holder{lease="default"} == 1' |
    python3 -c 'import json, sys; r = json.load(sys.stdin)["data"]["result"]; print(r[0]["metric"]["node"] if r else "")'
}

if ((fixture)); then
  sleep 10
else
  echo "waiting ${settle}s with the cluster settled..."
  sleep "$settle"
  h=$(holder)
  if [[ -z $h ]]; then
    echo "dashboard-shot.sh: no holder after ${settle}s (logs: $run/*.log)" >&2
    exit 1
  fi
  echo "killing the holder $h (pid ${pidOf[$h]}) with SIGKILL"
  kill -9 "${pidOf[$h]}"
  sleep "$down"
  echo "holder now: $(holder); restarting $h"
  start "$h"
  sleep "$after"
  echo "holder now: $(holder)"
fi

end=$(date +%s)
height=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
units = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in d["panels"])
print(units * 36 + 90)' "$run/assets/quorate-dashboard.json")
url="$prom/user/?start=$t0&end=$end&step=1"
shoot() {
  chromium --headless=new --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$run/chromium" \
    --window-size="1600,$height" --virtual-time-budget=30000 "$@" "$url" 2>>"$run/chromium.log"
}

if ((check)); then
  # The alert rules ran against these series too: each evaluation must have succeeded (a join
  # that matches many-to-many, say, fails only at run time). Prints the failing rules' names.
  failing=$(curl -sf "$prom/api/v1/rules" | python3 -c '
import json, sys
try:
    rules = [r for g in json.load(sys.stdin)["data"]["groups"] for r in g["rules"]]
except ValueError:
    sys.exit(print("(the rules API did not answer)"))
bad = [r["name"] for r in rules if r.get("health") != "ok"]
print(" ".join(bad) if rules else "(no rules loaded)")
for r in rules:
    if r.get("health") != "ok":
        print(r["name"], r.get("lastError"), file=sys.stderr)')
  shoot --dump-dom >"$run/page.html"
  summary=$(sed -n '/<pre id="summary">/,/<\/pre>/p' "$run/page.html" | sed 's/<[^>]*>//g')
  echo "$summary"
  panels=$(python3 -c 'import json, sys; print(sum(1 for p in json.load(open(sys.argv[1]))["panels"] if p["type"] != "row"))' \
    "$run/assets/quorate-dashboard.json")
  drawn=$(grep -c ': [1-9][0-9]* series$' <<<"$summary" || true)
  echo "alert rules failing to evaluate: ${failing:-none}"
  if ((broken)); then
    status=0
    if ((panels - drawn == 1)) && grep -q "\"$planted\": 0 series\$" <<<"$summary"; then
      echo "caught: panel \"$planted\" drew nothing, as planted"
    else
      echo "NOT caught as planted: $((panels - drawn)) panels drew nothing, not just \"$planted\""
      status=1
    fi
    if [[ $failing == QuorateQuorumLost ]]; then
      echo "caught: QuorateQuorumLost fails to evaluate, as planted"
    else
      echo "NOT caught as planted: rules failing: ${failing:-none}, not just QuorateQuorumLost"
      status=1
    fi
    exit $status
  fi
  if [[ -n $failing ]] || ((drawn != panels)); then
    echo "FAILED: $drawn of $panels panels drew series; rules failing: ${failing:-none}"
    exit 1
  fi
  echo "all $panels panels drew series from Prometheus; every alert rule evaluated"
  exit 0
fi

shoot --screenshot="$run/shot.png" >/dev/null
mkdir -p "$(dirname "$out")"
cp "$run/shot.png" "$out"
echo "wrote $out ($((end - t0)) s of data, ${height}px high)"
# What the alert rules made of the run (their "for" durations are meant for 5 s scrapes).
curl -sf "$prom/api/v1/query" --data-urlencode \
  "query=max_over_time(ALERTS{alertstate=\"firing\"}[$((end - t0 + 1))s])" --data-urlencode "time=$end" |
  python3 -c '
import json, sys
found = json.load(sys.stdin)["data"]["result"]
names = sorted({", ".join(f"{k}={v}" for k, v in r["metric"].items()
                          if k in ("alertname", "lease", "node", "instance")) for r in found})
print("alerts that fired during the run:" + "".join("\n  " + n for n in names) if names else
      "no alert fired during the run")' || true
