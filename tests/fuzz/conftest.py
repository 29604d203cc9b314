"""The three services' real apps on the real database, for schemathesis."""

from __future__ import annotations

import os

import pytest

from tests.integration.security.conftest import Services, security_settings

# Examples per operation and generation mode: small for `make test`, FUZZ_EXAMPLES=500 for the
# long run (`make fuzz`).
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
# What each test sent and what failed, one line each, printed at the end of the run.
REPORT: list[str] = []


def pytest_terminal_summary(terminalreporter) -> None:
    if REPORT:
        terminalreporter.section(f"fuzzing, {EXAMPLES} examples per operation and mode")
        for line in REPORT:
            terminalreporter.write_line(line)


@pytest.fixture
def services(settings) -> Services:
    return Services(security_settings(settings))
