"""The circuit of an endpoint: opens after refusals in a row, is probed after its cool-down,
closes when a probe connects, and opens for twice as long when one does not."""

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
        circuit.answered(False, at)


def test_a_closed_circuit_allows_deliveries_and_an_answer_resets_the_refusals():
    circuit = Circuit()
    refused(circuit, REFUSALS_TO_OPEN - 1)
    circuit.answered(True, NOW)
    refused(circuit, REFUSALS_TO_OPEN - 1)
    assert circuit.allows() and not circuit.is_open and not circuit.probe_due(NOW)


def test_refusals_in_a_row_open_it_until_a_probe_connects_after_the_cool_down():
    circuit = Circuit()
    refused(circuit, REFUSALS_TO_OPEN)
    assert circuit.is_open and not circuit.allows()
    assert not circuit.probe_due(NOW + FIRST_COOL_DOWN - timedelta(seconds=1))
    later = NOW + FIRST_COOL_DOWN
    assert circuit.probe_due(later)
    circuit.probing = True
    assert not circuit.probe_due(later)  # one probe at a time
    circuit.probed(True, later)
    assert circuit.allows() and not circuit.is_open and circuit.refusals == 0


def test_a_probe_that_does_not_connect_opens_it_again_for_twice_as_long_up_to_the_longest():
    circuit = Circuit()
    refused(circuit, REFUSALS_TO_OPEN)
    at = NOW + FIRST_COOL_DOWN
    circuit.probed(False, at)
    assert not circuit.probe_due(at + FIRST_COOL_DOWN)
    assert circuit.probe_due(at + 2 * FIRST_COOL_DOWN)
    for _ in range(20):
        at = circuit.open_until
        circuit.probed(False, at)
    assert circuit.open_until - at == LONGEST_COOL_DOWN and not circuit.allows()
