"""The monitoring configuration as data, for the tests that check it: the metrics the code
defines, the rules and dashboards and every PromQL expression in them, and promtool."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
RULES = PROMETHEUS_DIR / "rules" / "supervision.yml"
RULES_TESTS = PROMETHEUS_DIR / "rules" / "supervision.test.yml"
GRAFANA_DIR = ROOT / "deploy" / "grafana"
DASHBOARDS = sorted((GRAFANA_DIR / "dashboards").glob("*.json"))
METRICS_MODULES = [ROOT / "shared" / "metrics.py", *sorted(ROOT.glob("services/*/metrics.py"))]

# The series each kind of metric is exposed as (prometheus_client; Counters add "_total").
HISTOGRAM = ("_bucket", "_sum", "_count")
SUFFIXES = {"Counter": ("_total",), "CounterMetricFamily": ("_total",),
            "Gauge": ("",), "GaugeMetricFamily": ("",),
            "Histogram": HISTOGRAM, "HistogramMetricFamily": HISTOGRAM,
            "Summary": ("_sum", "_count")}
# Series Prometheus itself adds to every scrape.
SCRAPE_SERIES = {"up"}
# Grafana's variables, and the values a test evaluates them with.
GRAFANA_BUILTINS = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h"}


@dataclass(frozen=True)
class Metric:
    name: str  # as defined, e.g. supervision_checks_total or supervision_items
    kind: str
    labels: tuple[str, ...]
    module: Path

    @property
    def series(self) -> set[str]:
        base = self.name.removesuffix("_total") if "Counter" in self.kind else self.name
        return {base + suffix for suffix in SUFFIXES[self.kind]}


def defined_metrics() -> list[Metric]:
    """Every metric defined in shared/metrics.py and services/*/metrics.py, read from the source
    (collectors that count in the database at scrape time are in no registry until then)."""
    found = []
    for module in METRICS_MODULES:
        for node in ast.walk(ast.parse(module.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in SUFFIXES and node.args
                    and isinstance(node.args[0], ast.Constant)):
                continue
            labels = next((kw.value for kw in node.keywords
                           if kw.arg in ("labels", "labelnames")), None)
            if labels is None and len(node.args) > 2:
                labels = node.args[2]
            names = tuple(ast.literal_eval(labels)) if labels is not None else ()
            found.append(Metric(node.args[0].value, node.func.id, names, module))
    return found


def rules() -> list[dict]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"]
            for rule in group["rules"]]


def dashboard(path: Path) -> dict:
    return json.loads(path.read_text())


def panels(board: dict) -> list[dict]:
    """Every panel but rows, rows' nested panels included."""
    found = []
    for panel in board["panels"]:
        found.extend(panel.get("panels", []) if panel["type"] == "row" else [panel])
    return found


def expressions() -> list[tuple[str, str]]:
    """(where, PromQL) of every dashboard target, dashboard variable and rule."""
    found = []
    for path in DASHBOARDS:
        board = dashboard(path)
        for panel in panels(board):
            for target in panel.get("targets", []):
                found.append((f"{path.name}: {panel['title']}", target["expr"]))
        for variable in board["templating"]["list"]:
            inner = re.fullmatch(r"label_values\((.+),\s*\w+\)", variable["definition"])
            if inner:
                found.append((f"{path.name}: variable {variable['name']}", inner.group(1)))
    for rule in rules():
        found.append((f"{RULES.name}: {rule.get('alert') or rule['record']}", rule["expr"]))
    return found


def concrete(expr: str) -> str:
    """The expression as Grafana would send it with every template variable set to All."""
    for name, value in GRAFANA_BUILTINS.items():
        expr = expr.replace(name, value)
    return re.sub(r"\$\w+", ".*", expr)


_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
             "unless", "offset", "bool", "inf", "nan"}


def series_names(expr: str) -> set[str]:
    """The metric names an expression selects (not functions, labels, keywords or values)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges and subqueries
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    expr = re.sub(r"\boffset\s+\w+", "", expr)
    names = re.findall(r"(?<![\w.])([a-zA-Z_:][\w:]*)\b(?!\s*\()", expr)
    return {name for name in names if name.lower() not in _KEYWORDS}


def promtool(*args: str) -> subprocess.CompletedProcess:
    """Run promtool; it is part of the project's toolchain, so its absence is a failure."""
    binary = shutil.which("promtool")
    assert binary, ("promtool not found on PATH: it comes with Debian's prometheus package, "
                    "installed by deploy/local/install.sh (make install)")
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=120)
