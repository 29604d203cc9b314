"""The alerting and recording rules are valid, loaded by both Prometheus configurations, and
fire as specified on synthetic series (deploy/prometheus/rules/supervision.test.yml)."""

from __future__ import annotations

import yaml

from tests.unit.observability.monitoring import PROMETHEUS_DIR, RULES, RULES_TESTS, promtool

REQUIRED_ALERTS = {
    "SupervisionServiceDown", "SupervisionHttpErrors", "SupervisionHttpSlow",
    "SupervisionConsumerLagHigh", "SupervisionConsumerLagGrowing",
    "SupervisionEventsDeadLettered", "SupervisionOutboxBacklog", "SupervisionOutboxStuck",
    "SupervisionWebhookFailures", "SupervisionWebhookDeliveriesFailed",
    "SupervisionOverdueSurge", "SupervisionReopeningsSpike",
}


def alerts() -> list[dict]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_the_rules_pass_promtool_check():
    checked = promtool("check", "rules", str(RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_alerts_fire_as_specified_on_synthetic_series():
    tested = promtool("test", "rules", str(RULES_TESTS))
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_required_alert_exists_with_severity_audience_summary_and_description():
    by_name = {rule["alert"]: rule for rule in alerts()}
    missing = REQUIRED_ALERTS - by_name.keys()
    assert not missing, f"alerts missing from {RULES.name}: {sorted(missing)}"
    for name, rule in by_name.items():
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, name
        assert rule["labels"]["audience"] in {"ops", "supervisors"}, name
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name


def test_both_prometheus_configurations_load_the_rules_and_are_valid():
    for config in ("prometheus.local.yml", "prometheus.yml"):
        path = PROMETHEUS_DIR / config
        assert "rules/supervision.yml" in yaml.safe_load(path.read_text())["rule_files"], config
        checked = promtool("check", "config", str(path))
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_local_prometheus_scrapes_the_three_services_on_their_contract_ports():
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.local.yml").read_text())
    targets = {job["job_name"]: target for job in config["scrape_configs"]
               for static in job["static_configs"] for target in static["targets"]}
    assert targets == {"issues": "127.0.0.1:8001", "inspections": "127.0.0.1:8002",
                       "notifications": "127.0.0.1:8003"}
