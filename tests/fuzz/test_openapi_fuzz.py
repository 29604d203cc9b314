"""Bad input never breaks it: schemathesis sends each operation of each service's OpenAPI
document generated requests, valid ones and invalid ones, each as the city and as a county
admin. No answer is a 5xx, and every answer conforms to the document (status code, content
type, body schema).

schemathesis's own pytest loader does not run under pytest 9, so each operation's strategy is
driven by hypothesis here; a failing operation is reported with the request that broke it.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.fuzz.conftest import EXAMPLES, REPORT

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
CALLERS = ("city", "county_c")


def fuzz(services, service: str, operation) -> int:
    """Run the examples of one operation; answers how many requests were sent."""
    sent = 0
    strategy = st.one_of(*(operation.as_strategy(generation_mode=mode)
                           for mode in GenerationMode))

    @given(case=strategy)
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def examples(case) -> None:
        nonlocal sent
        if case.query and "wait" in case.query:
            case.query["wait"] = 0  # a long poll only makes the run slower, not wiser
        for caller in CALLERS:
            case.call_and_validate(headers=services.headers(caller), checks=CHECKS)
            sent += 1

    examples()
    return sent


@pytest.mark.parametrize("service", ["issues", "inspections", "notifications"])
def test_every_operation_answers_any_input_as_documented_and_never_5xx(services, service):
    schema = schemathesis.openapi.from_wsgi("/openapi.json", services.apps[service])
    failures, sent, operations = {}, 0, 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        try:
            sent += fuzz(services, service, operation)
        except Exception as exc:  # noqa: BLE001 — every operation is tried; all are reported
            failures[operation.label] = str(exc)[:2000]
    REPORT.append(f"conformance, {service}: {operations} operations, {sent} requests, "
                  f"{len(failures)} failing")
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
