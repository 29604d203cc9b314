"""The Grafana dashboards and their provisioning: every panel asks the provisioned data source
for metrics the code defines, in PromQL that parses."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from tests.unit.observability.monitoring import (
    DASHBOARDS,
    GRAFANA_DIR,
    ROOT,
    SCRAPE_SERIES,
    concrete,
    dashboard,
    defined_metrics,
    expressions,
    panels,
    promtool,
    rules,
    series_names,
)

DATASOURCE = yaml.safe_load(
    (GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml").read_text())["datasources"][0]


def known_series() -> set[str]:
    recorded = {rule["record"] for rule in rules() if "record" in rule}
    return set().union(*(m.series for m in defined_metrics())) | recorded | SCRAPE_SERIES


def test_there_are_an_ops_and_a_supervision_dashboard_with_unique_uids():
    uids = [dashboard(path)["uid"] for path in DASHBOARDS]
    assert {"supervision-ops", "supervision-work"} <= set(uids)
    assert len(uids) == len(set(uids))


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_panel_has_the_provisioned_datasource_and_queries(path):
    board = dashboard(path)
    assert 38 <= board["schemaVersion"] <= 41
    for panel in panels(board):
        expected = {"type": "prometheus", "uid": DATASOURCE["uid"]}
        assert panel["datasource"] == expected, panel["title"]
        assert panel["targets"], f"{panel['title']} has no query"
        for target in panel["targets"]:
            assert target["expr"].strip(), panel["title"]
            assert target["datasource"]["uid"] == DATASOURCE["uid"], panel["title"]
    for variable in board["templating"]["list"]:
        assert variable["datasource"]["uid"] == DATASOURCE["uid"], variable["name"]


def test_every_metric_a_dashboard_or_rule_reads_is_one_the_code_defines():
    known = known_series()
    for where, expr in expressions():
        names = series_names(expr)
        assert names, f"{where}: no metric found in {expr!r}"
        unknown = names - known
        assert not unknown, f"{where}: {sorted(unknown)} are defined nowhere in the code"


def test_every_dashboard_expression_is_valid_promql(tmp_path):
    # promtool parses recording rules' expressions: one per dashboard query, variables set.
    group = {"name": "dashboards", "rules": [
        {"record": f"dashboard:query_{n}", "expr": concrete(expr)}
        for n, (_, expr) in enumerate(expressions())]}
    path = tmp_path / "dashboards.yml"
    path.write_text(yaml.safe_dump({"groups": [group]}, allow_unicode=True))
    checked = promtool("check", "rules", str(path))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_template_variables_are_the_dashboards_own_or_grafanas():
    for path in DASHBOARDS:
        board = dashboard(path)
        own = {f"${v['name']}" for v in board["templating"]["list"]}
        text = json.dumps([t["expr"] for p in panels(board) for t in p["targets"]])
        used = set(re.findall(r"\$\w+", text))
        assert used - own <= {"$__rate_interval", "$__interval", "$__range"}, path.name


def test_the_inspections_figures_carry_no_county_in_any_dashboard():
    """Rule U: a county must not learn of an inspection of it from a figure."""
    for where, expr in expressions():
        if series_names(expr) & {"supervision_inspections", "supervision_checks_total"}:
            assert "county" not in expr, where


def test_grafana_reads_the_dashboards_where_docker_compose_mounts_them():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    assert "./deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro" in mounts
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in mounts
    providers = yaml.safe_load(
        (GRAFANA_DIR / "provisioning" / "dashboards" / "supervision.yml").read_text())["providers"]
    assert [p["options"]["path"] for p in providers] == ["/var/lib/grafana/dashboards"]
    assert DATASOURCE["url"] == "http://prometheus:9090"
