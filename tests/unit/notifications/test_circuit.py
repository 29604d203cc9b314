"""The circuit of an endpoint: opens after refusals in a row, lets one probe through after its
cool-down, closes on an answer, and opens for twice as long when the probe is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.notifications.domain.circuit import (
    FIRST_COOL_DOWN,
    LONGEST_COOL_DOWN,
    REFUSALS_TO_OPEN,
    Circuit,
)

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def refused(circuit: Circuit, times: int, at: datetime = NOW) -> None:
    for _ in range(times):
        circuit.sent(at)
        circuit.answered(False, at)


def test_a_closed_circuit_sets_no_limit_and_an_answer_resets_the_refusals():
    circuit = Circuit()
    refused(circuit, REFUSALS_TO_OPEN - 1)
    circuit.answered(True, NOW)
    refused(circuit, REFUSALS_TO_OPEN - 1)
    assert circuit.allows(NOW) is None and not circuit.is_open


def test_refusals_in_a_row_open_it_until_one_probe_may_go_after_the_cool_down():
    circuit = Circuit()
    refused(circuit, REFUSALS_TO_OPEN)
    assert circuit.is_open and circuit.allows(NOW) == 0
    later = NOW + FIRST_COOL_DOWN
    assert circuit.allows(later) == 1
    circuit.sent(later)
    assert circuit.allows(later) == 0  # the probe is out: nothing else until it answers
    circuit.answered(True, later)
    assert circuit.allows(later) is None and not circuit.is_open


def test_a_refused_probe_opens_it_again_for_twice_as_long_up_to_the_longest():
    circuit = Circuit()
    refused(circuit, REFUSALS_TO_OPEN)
    at = NOW + FIRST_COOL_DOWN
    refused(circuit, 1, at)
    assert circuit.allows(at + FIRST_COOL_DOWN) == 0
    assert circuit.allows(at + 2 * FIRST_COOL_DOWN) == 1
    for _ in range(20):
        at = circuit.open_until
        refused(circuit, 1, at)
    assert circuit.open_until - at == LONGEST_COOL_DOWN
    assert circuit.cool_down <= LONGEST_COOL_DOWN < timedelta(hours=1)
