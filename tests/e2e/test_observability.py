"""What ops and supervisors see of the key flow: each service's /metrics, and a real Prometheus
scraping the three services, evaluating the project's rules and every dashboard query."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import WEB
from tests.e2e.flows import (
    KEQIAO,
    close_item,
    create_item,
    file_results,
    get_item,
    plan_inspection,
    start_inspection,
    subscribe,
)
from tests.receiver import Receiver
from tests.support import eventually
from tests.unit.observability.monitoring import concrete, defined_metrics, expressions, rules


def figure(stack, service: str, name: str, **labels: str) -> float:
    """The sum of the samples ``name{labels...}`` on the service's /metrics now."""
    answer = requests.get(f"{stack.urls[service]}/metrics", timeout=10)
    assert answer.status_code == 200, answer.text
    return sum(sample.value for family in text_string_to_metric_families(answer.text)
               for sample in family.samples
               if sample.name == name and labels.items() <= sample.labels.items())


def at_least(stack, service: str, name: str, value: float, **labels: str) -> float:
    """Wait until the figure reaches ``value``: workers count after they have acted."""
    return eventually(lambda: (v := figure(stack, service, name, **labels)) >= value and v,
                      timeout=30, message=f"{service}: {name}{labels} never reached {value}")


@pytest.fixture(scope="module")
def flow(stack, prometheus) -> dict:
    """The key flow once, under Prometheus' eyes: an item of 柯桥区 closed, an inspection by
    越城区 inspectors started, a failed check filed, the item reopened; the county's system,
    subscribed, answers its first webhook with a 500. One more item of 柯桥区 is overdue."""
    before = {
        "reopened": figure(stack, "issues", "supervision_items_reopened_total", county=KEQIAO),
        "failed": figure(stack, "inspections", "supervision_checks_total", outcome="failed"),
    }
    with Receiver(answers=[500]) as county_system:
        county_system.secret = subscribe(stack, county_system.url)["secret"]
        item = create_item(stack)
        close_item(stack, item)
        create_item(stack, deadline=(date.today() - timedelta(days=1)).isoformat())
        inspection = plan_inspection(stack, [item["id"]])
        start_inspection(stack, inspection["id"])
        file_results(stack, inspection["id"], [
            {"item_id": item["id"], "outcome": "fail", "findings": "承诺书未公示,整改不到位"}],
            key=str(uuid.uuid4()))
        # Generous: on a broker shared with other test runs a consumer group may be rebalancing.
        eventually(lambda: get_item(stack, item["id"])["status"] == "reopened", timeout=60,
                   message="the item was not reopened")
        eventually(lambda: county_system.of_type("issue.reopened"), timeout=60,
                   message="the county system never heard of the reopening")
    return before


def test_the_key_flow_changes_the_figures_each_service_serves(stack, flow):
    # issues: rule R counted per county, items by status, overdue, the check_failed applied.
    at_least(stack, "issues", "supervision_items_reopened_total", flow["reopened"] + 1,
             county=KEQIAO)
    at_least(stack, "issues", "supervision_items", 1, county=KEQIAO, status="reopened")
    at_least(stack, "issues", "supervision_items_overdue", 1, county=KEQIAO)
    at_least(stack, "issues", "supervision_events_consumed_total", 1,
             type="inspection.check_failed", outcome="processed")
    at_least(stack, "issues", "supervision_http_requests_total", 2,
             method="POST", route="/v1/items", status="201")
    # inspections: the failed check, the completed inspection, its events published.
    at_least(stack, "inspections", "supervision_checks_total", flow["failed"] + 1,
             outcome="failed")
    at_least(stack, "inspections", "supervision_inspections", 1, status="completed")
    at_least(stack, "inspections", "supervision_events_published_total", 1,
             type="inspection.check_failed")
    at_least(stack, "inspections", "supervision_events_consumed_total", 1,
             type="issue.created", outcome="processed")
    # notifications: events consumed, the webhook refused once and then delivered.
    at_least(stack, "notifications", "supervision_events_consumed_total", 1,
             type="issue.reopened", outcome="processed")
    at_least(stack, "notifications", "supervision_webhook_attempts_total", 1, outcome="http_error")
    at_least(stack, "notifications", "supervision_webhook_attempts_total", 1, outcome="success")
    at_least(stack, "notifications", "supervision_webhook_delivery_lag_seconds_count", 1)


def test_prometheus_scrapes_the_three_services_and_sees_the_reopening(prometheus, flow):
    def all_up():
        targets = prometheus.api("targets")["activeTargets"]
        health = {t["labels"]["job"]: t["health"] for t in targets}
        assert health == dict.fromkeys(WEB, "up"), health
        return True

    eventually(all_up, timeout=30, message="not every service is scraped")

    def value(expr: str) -> float:
        result = prometheus.query(expr)
        return float(result[0]["value"][1]) if result else 0.0

    eventually(lambda: value(f'sum(supervision_items_reopened_total{{county="{KEQIAO}"}})') > 0,
               timeout=30, message="Prometheus never saw the reopening")
    eventually(lambda: value('sum(supervision_checks_total{outcome="failed"})') > 0,
               timeout=30, message="Prometheus never saw the failed check")


def test_every_metric_the_code_defines_reaches_prometheus(prometheus, flow):
    def exposed(metric) -> bool:
        return any(prometheus.query(f'count({{__name__="{name}"}})') for name in metric.series)

    for metric in defined_metrics():
        eventually(lambda m=metric: exposed(m), timeout=30,
                   message=f"{metric.name} is not in Prometheus after the key flow")


def test_every_dashboard_query_and_rule_evaluates_in_prometheus(prometheus, flow):
    for where, expr in expressions():
        try:
            prometheus.query(concrete(expr))
        except AssertionError as error:
            raise AssertionError(f"{where}: {expr}") from error

    loaded = {rule["name"] for group in prometheus.api("rules")["groups"]
              for rule in group["rules"]}
    assert loaded == {rule.get("alert") or rule["record"] for rule in rules()}

    def all_healthy():
        health = {rule["name"]: (rule["health"], rule.get("lastError"))
                  for group in prometheus.api("rules")["groups"] for rule in group["rules"]}
        assert all(h == "ok" for h, _ in health.values()), health
        return True

    eventually(all_healthy, timeout=30, message="a rule does not evaluate")
