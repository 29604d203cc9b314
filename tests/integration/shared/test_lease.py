"""The lease that keeps one relay, one overdue scan and one gauge reporter per service: on the
real database, however many processes ask at the same instant, a term has one holder, the
holder keeps it from term to term, and when it stops another takes over."""

from __future__ import annotations

import uuid

import pytest

from shared import mongo
from shared.outbox import lease
from tests.support import together

SECONDS = 10.0  # the length of a term; the tests give the time, so none is waited for
CONTENDERS = 8


@pytest.fixture
def db(settings):
    return mongo.database(settings, "lease")


def held(db, name: str, now: float, holders: list[str]) -> list[str]:
    """Who of ``holders``, all asking at the same instant ``now``, was told it holds it."""
    answers = together(lambda n: (holders[n], lease(db, name, holders[n], SECONDS, now=now)),
                       len(holders))
    return sorted(holder for holder, holds in answers if holds)


def test_of_contenders_asking_at_once_exactly_one_holds_each_moment_and_keeps_it(db):
    name, holders = f"test-{uuid.uuid4().hex[:8]}", [f"p{n}" for n in range(CONTENDERS)]
    start = 1_800_000_000.0  # the start of a term
    moments = [start + step * SECONDS / 4 for step in range(16)]  # four terms, four calls each
    winners = [held(db, name, moment, holders) for moment in moments]
    assert all(len(w) == 1 for w in winners), winners
    assert len({w[0] for w in winners}) == 1, f"the lease moved while its holder asked: {winners}"


def test_when_the_holder_stops_asking_another_takes_the_next_term(db):
    name, holders = f"test-{uuid.uuid4().hex[:8]}", [f"p{n}" for n in range(CONTENDERS)]
    start = 1_800_000_000.0
    [first] = held(db, name, start, holders)
    rest = [h for h in holders if h != first]
    assert held(db, name, start + SECONDS / 4, rest) == []  # the term is still the first's
    [second] = held(db, name, start + SECONDS, rest)  # the first never claimed the next term
    assert second != first
    assert not lease(db, name, first, SECONDS, now=start + SECONDS + 1)
