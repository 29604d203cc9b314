"""Bad input changes nothing: schemathesis makes bodies and parameters that break each
changing operation's documented schema, sent with valid tokens against resources that exist;
every answer is a 4xx, and afterwards every collection of the three services holds exactly
what it held before."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.core.parameters import ParameterLocation

from tests.fuzz.conftest import EXAMPLES, REPORT

# Who would make each change for real, so that only the input can be at fault.
CALLER = {"start": "inspector_team", "results": "inspector_team"}
INPUT = (ParameterLocation.BODY, ParameterLocation.QUERY)
PATH_PARAMETER = {"issues": ("item_id", "item"), "inspections": ("inspection_id", "started"),
                  "notifications": ("id_", "subscription")}


def changing_operations(schema):
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.method.upper() != "GET" and (operation.body or operation.query):
            yield operation


def breaks_the_input(case) -> bool:
    """The case breaks the body or the query: the token and the path are ours, and valid."""
    return any(info.mode == GenerationMode.NEGATIVE
               for location, info in case.meta.components.items() if location in INPUT)


def send_invalid(operation, strategy, headers: dict, answers: list[int],
                 accepted: list[str]) -> None:
    """Send EXAMPLES invalid requests of one operation; note each status, and what was taken."""

    @given(case=strategy.filter(breaks_the_input))
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def send(case) -> None:
        answer = case.call(headers=headers)
        answers.append(answer.status_code)
        if not 400 <= answer.status_code < 500:
            accepted.append(f"{operation.label} {answer.status_code}: {case.meta}\n"
                            f"{case.body!r:.500}")

    send()


@pytest.mark.parametrize("service", ["issues", "inspections", "notifications"])
def test_invalid_input_to_every_changing_operation_is_4xx_and_changes_nothing(services,
                                                                            service):
    name, kind = PATH_PARAMETER[service]
    resource = services.resource(kind, fresh=False)
    schema = schemathesis.openapi.from_wsgi("/openapi.json", services.apps[service])
    before = services.stored()
    answers: list[int] = []
    accepted: list[str] = []
    for operation in changing_operations(schema):
        caller = CALLER.get(operation.path.rsplit("/", 1)[-1], "city")
        headers = {**services.headers(caller),
                   **({"If-Match": resource["etag"]} if resource.get("etag") else {})}
        strategy = operation.as_strategy(
            generation_mode=GenerationMode.NEGATIVE,
            path_parameters={name: resource["id"]} if f"{{{name}}}" in operation.path else None)
        send_invalid(operation, strategy, headers, answers, accepted)
    REPORT.append(f"invalid input, {service}: {len(answers)} requests, {len(accepted)} not refused")
    assert answers, "no invalid request was made"
    assert not accepted, "\n\n".join(accepted[:5])
    assert services.stored() == before, "invalid input changed what is stored"
