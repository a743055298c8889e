#!/usr/bin/env python3
"""Checks deploy/grafana/quorate-dashboard.json without Grafana.

What it checks: the file is JSON with a recent schemaVersion, a Prometheus data source variable
and a cluster variable; every panel has a data source and queries; every query parses as PromQL
(promtool check rules, on a temporary file holding each query as a recording rule, Grafana's
variables substituted); every metric a query names is in docs/metrics-names.txt.

  check_dashboard.py [--broken] SOURCE_DIR

--broken is the control: each of a few mistakes planted in a copy of the dashboard (a misspelt
metric, a query that does not parse, a panel without data source, a panel without queries) must
be reported; exit 0 when every one was. Exit 77 (skip) without promtool.
"""

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

# Values for Grafana's variables, so the queries become plain PromQL.
SUBSTITUTIONS = {
    "$__rate_interval": "1m",
    "$__interval": "15s",
    "$__range": "15m",
    "${datasource}": "prometheus",
    "$cluster": "demo",
    "$lease": ".*",
}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
# PromQL words that look like metric names: functions, aggregations, keywords.
NON_METRICS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
    "bool", "offset", "sum", "min", "max", "avg", "count", "group", "rate", "increase",
    "histogram_quantile", "label_replace", "topk", "bottomk", "last_over_time", "max_over_time",
    "min_over_time", "avg_over_time", "changes", "resets", "delta", "irate", "time", "timestamp",
    "vector", "scalar", "abs", "clamp_min", "clamp_max", "le", "inf", "nan",
}


def load_metric_names(path):
    """Returns {name: type} from docs/metrics-names.txt."""
    names = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            fields = line.split()
            names[fields[0]] = fields[1] if len(fields) > 1 else "untyped"
    return names


def substitute(expr):
    for var, value in SUBSTITUTIONS.items():
        expr = expr.replace(var, value)
    return expr


def metric_names_in(expr):
    """Identifiers used as metric names: outside label matchers and strings, not before '('."""
    # Drop strings and {...} matchers: label names and values are not metrics.
    stripped = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    stripped = re.sub(r"\{[^}]*\}", "{}", stripped)
    # Drop grouping clauses: by (a, b), on (a), group_left (node) name labels, not metrics.
    stripped = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", r"\1", stripped)
    stripped = re.sub(r"\[[^\]]*\]", "", stripped)  # ranges like [1m]
    found = set()
    for m in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", stripped):
        word = m.group(0)
        rest = stripped[m.end():].lstrip()
        if rest.startswith("("):
            continue  # a function or aggregation
        if word.lower() in NON_METRICS or re.fullmatch(r"[0-9.e]+", word):
            continue
        found.add(word)
    return found


def known(name, names):
    if name in names:
        return True
    for suffix in HISTOGRAM_SUFFIXES:
        base = name[: -len(suffix)] if name.endswith(suffix) else None
        if base and names.get(base) == "histogram":
            return True
    return False


def all_panels(dashboard):
    for panel in dashboard.get("panels", []):
        yield panel
        for inner in panel.get("panels", []) or []:  # panels inside collapsed rows
            yield inner


def check(dashboard_text, names):
    """Returns a list of problems (empty when the dashboard is fine)."""
    problems = []
    try:
        dashboard = json.loads(dashboard_text)
    except json.JSONDecodeError as e:
        return [f"not valid JSON: {e}"]
    if not isinstance(dashboard.get("schemaVersion"), int) or dashboard["schemaVersion"] < 37:
        problems.append(f"schemaVersion {dashboard.get('schemaVersion')!r}: want 37 or later")
    variables = {v.get("name"): v for v in dashboard.get("templating", {}).get("list", [])}
    ds = variables.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        problems.append("no 'datasource' variable of type datasource for prometheus")
    if "cluster" not in variables:
        problems.append("no 'cluster' variable")

    rules = []
    panels = list(all_panels(dashboard))
    for panel in panels:
        if panel.get("type") == "row":
            continue
        where = f"panel {panel.get('id')} ({panel.get('title')!r})"
        source = panel.get("datasource") or {}
        if source.get("type") != "prometheus" or not source.get("uid"):
            problems.append(f"{where}: no prometheus data source")
        targets = panel.get("targets") or []
        if not targets:
            problems.append(f"{where}: no queries")
        for target in targets:
            expr = target.get("expr", "")
            if not expr.strip():
                problems.append(f"{where}: query {target.get('refId')} has no expr")
                continue
            rules.append((where, target.get("refId", "?"), substitute(expr)))
            for name in sorted(metric_names_in(substitute(expr))):
                if not known(name, names):
                    problems.append(f"{where}: metric {name} is not in docs/metrics-names.txt")
    if not rules:
        problems.append("no queries at all")
    problems += promql_problems(rules)
    return problems


def promql_problems(rules):
    """Parses every query with promtool, as recording rules; returns its complaints."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "dashboard-queries.yml")
        with open(path, "w", encoding="utf-8") as f:
            f.write("groups:\n  - name: dashboard\n    rules:\n")
            for i, (_, ref, expr) in enumerate(rules):
                f.write(f"      - record: dashboard:query_{i}_{ref}\n")
                f.write(f"        expr: {json.dumps(expr)}\n")
        result = subprocess.run(["promtool", "check", "rules", path], capture_output=True,
                                text=True, check=False)
        if result.returncode != 0:
            return ["promtool rejects a query:\n" + result.stdout + result.stderr]
    return []


def plant_mistakes(dashboard):
    """Yields (what, broken dashboard text): one planted mistake each."""
    def first_query_panel(d):
        return next(p for p in all_panels(d) if p.get("targets"))

    d = copy.deepcopy(dashboard)
    t = first_query_panel(d)["targets"][0]
    t["expr"] = t["expr"].replace("quorate_lease_holder", "quorate_lease_holdr")
    yield "a misspelt metric name", d
    d = copy.deepcopy(dashboard)
    t = first_query_panel(d)["targets"][0]
    t["expr"] = "sum by (lease (" + t["expr"] + ")"
    yield "a query that does not parse", d
    d = copy.deepcopy(dashboard)
    del first_query_panel(d)["datasource"]
    yield "a panel without data source", d
    d = copy.deepcopy(dashboard)
    first_query_panel(d)["targets"] = []
    yield "a panel without queries", d
    d = copy.deepcopy(dashboard)
    d["templating"]["list"] = [v for v in d["templating"]["list"] if v.get("name") != "cluster"]
    yield "no cluster variable", d


def main(argv):
    broken = len(argv) > 1 and argv[1] == "--broken"
    args = argv[2:] if broken else argv[1:]
    if len(args) != 1:
        print(__doc__)
        return 2
    if shutil.which("promtool") is None:
        print("SKIP: promtool is not installed (Debian: prometheus)")
        return 77
    src = args[0]
    names = load_metric_names(os.path.join(src, "docs", "metrics-names.txt"))
    with open(os.path.join(src, "deploy", "grafana", "quorate-dashboard.json"), encoding="utf-8") as f:
        text = f.read()
    if not broken:
        problems = check(text, names)
        for p in problems:
            print(p)
        if problems:
            return 1
        dashboard = json.loads(text)
        count = sum(1 for p in all_panels(dashboard) if p.get("type") != "row")
        print(f"dashboard: {count} panels, each with a data source and queries that parse, "
              "naming only agreed metrics")
        return 0
    missed = 0
    for what, planted in plant_mistakes(json.loads(text)):
        problems = check(json.dumps(planted), names)
        if problems:
            print(f"caught: {what}: {problems[0].splitlines()[0]}")
        else:
            print(f"NOT caught: {what}")
            missed += 1
    if missed:
        return 1
    print("every planted mistake was caught, as it must be")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
