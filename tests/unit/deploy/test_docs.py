"""The operations documents keep up with what they describe: every process with its command,
every alert with what to do about it."""

from __future__ import annotations

import yaml

from tests.unit.deploy.deployment import ROOT, procfile

DOCS = ROOT / "docs"


def test_deployment_lists_every_process_with_its_command():
    text = (DOCS / "deployment.md").read_text()
    for name, argv in procfile().items():
        # As a shell reads it: the gunicorn app factory call is quoted.
        command = " ".join(f'"{arg}"' if "(" in arg else arg for arg in argv)
        assert f"| `{name}` | `{command}` |" in text, name


def test_operations_says_what_to_do_about_every_alert():
    rules_file = ROOT / "deploy" / "prometheus" / "rules" / "supervision.yml"
    rules = yaml.safe_load(rules_file.read_text())
    alerts = [r["alert"] for group in rules["groups"] for r in group["rules"] if "alert" in r]
    text = (DOCS / "operations.md").read_text()
    assert alerts
    for alert in alerts:
        assert f"| `{alert}` |" in text, alert
