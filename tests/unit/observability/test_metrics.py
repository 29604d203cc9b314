"""What the metrics may say: bounded labels only, nothing that reveals a planned inspection to
a county (rule U), and every metric documented in docs/metrics.md."""

from __future__ import annotations

import re

from tests.unit.observability.monitoring import ROOT, defined_metrics

# Labels that would grow without bound or carry personal or free text.
UNBOUNDED = {"id", "item_id", "inspection_id", "subscription_id", "event_id", "delivery_id",
             "url", "path", "sub", "actor", "responsible", "reason", "findings", "problem",
             "village", "township", "error"}


def test_every_metric_is_named_for_the_system_and_defined_once():
    names = [m.name for m in defined_metrics()]
    assert names and all(name.startswith("supervision_") for name in names)
    assert len(names) == len(set(names))


def test_no_metric_has_an_unbounded_or_personal_label():
    for metric in defined_metrics():
        assert not set(metric.labels) & UNBOUNDED, f"{metric.name}: {metric.labels}"


def test_no_inspections_figure_and_no_event_type_figure_carries_a_county():
    """Rule U: an inspection planned against a county is invisible to it, in aggregates too."""
    for metric in defined_metrics():
        if metric.module.parent.name == "inspections" or "type" in metric.labels:
            assert "county" not in metric.labels, metric.name


def test_every_metric_is_documented_with_its_labels():
    documented = (ROOT / "docs" / "metrics.md").read_text()
    for metric in defined_metrics():
        row = re.search(rf"^\| `{metric.name}` \|.*$", documented, re.MULTILINE)
        assert row, f"{metric.name} is not in the table of docs/metrics.md"
        for label in metric.labels:
            assert f"`{label}`" in row.group(0), f"{metric.name}: label {label} undocumented"
