"""How long the notifications service keeps what it stores, and which days a sweep may drop.

Every record a sweep may drop carries the day it was stored on (``day``, UTC, "YYYY-MM-DD"):
a sweep deletes whole days by that equality, which FerretDB hands to PostgreSQL and MongoDB
serves from an index, instead of a range over times that FerretDB would check in every record.
A record is kept at least its retention and at most one day more.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

EVENTS, DELIVERIES, ATTEMPTS, CLAIMS = "events", "deliveries", "attempts", "delivery_claims"


def day_key(moment: datetime | date) -> str:
    return moment.strftime("%Y-%m-%d")


@dataclass(frozen=True)
class Retention:
    """How long each store keeps its records.

    Events are what replay and the feed can serve (30 days by default, as Stripe keeps
    them); a finished delivery goes with its event (an unfinished one stays, whatever its age);
    the attempt log is the audit of what was sent where (90 days); a claim matters for one lease
    (a day). Events are kept at least as long as the retry schedule runs, so no delivery still
    on its way loses its event.
    """

    events: timedelta
    attempts: timedelta
    claims: timedelta

    @classmethod
    def of(cls, *, event_days: int, attempt_days: int, claim_days: int,
           retry_schedule: Sequence[int]) -> Retention:
        retries = timedelta(seconds=sum(retry_schedule))
        return cls(events=max(timedelta(days=event_days), retries + timedelta(days=1)),
                   attempts=timedelta(days=attempt_days), claims=timedelta(days=claim_days))

    def first_kept_day(self, store: str, now: datetime) -> date:
        """Records of a day before this one are past their retention."""
        keep = {EVENTS: self.events, DELIVERIES: self.events, ATTEMPTS: self.attempts,
                CLAIMS: self.claims}[store]
        return (now - keep).date()


def days_between(after: date, before: date) -> Iterator[date]:
    """The days after ``after`` and before ``before``."""
    day = after + timedelta(days=1)
    while day < before:
        yield day
        day += timedelta(days=1)
