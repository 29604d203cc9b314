"""Deliveries of events to subscriptions: their states, retries, and the attempt log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

# A delivery is pending (waiting for its next attempt), in flight (claimed by a worker, under a
# lease), or finished: delivered, failed (every attempt used up; replayable) or cancelled
# (its subscription stopped).
PENDING, IN_FLIGHT = "pending", "in_flight"
DELIVERED, FAILED, CANCELLED = "delivered", "failed", "cancelled"
UNFINISHED = (PENDING, IN_FLIGHT)


def next_delay(schedule: Sequence[int], attempts_made: int) -> int | None:
    """Seconds to wait before the next attempt, or None when every attempt is used up.

    ``schedule[i]`` is the wait before attempt i+1: the first entry (0 by default) is the wait
    before the first attempt, so the schedule also gives the number of attempts.
    """
    return schedule[attempts_made] if attempts_made < len(schedule) else None


@dataclass(frozen=True)
class Answer:
    """What one HTTP attempt got: a status code, or no answer and why."""

    status: int | None
    latency_ms: float
    error: str | None = None

    @property
    def outcome(self) -> str:
        """success, gone, http_error, no_answer or refused (bounded: a metrics label)."""
        if self.status is None:
            return "refused" if self.error and self.error.startswith("refused") else "no_answer"
        if 200 <= self.status < 300:
            return "success"
        return "gone" if self.status == 410 else "http_error"


@dataclass
class Delivery:
    id: str
    subscription_id: str
    event_id: str
    event_type: str
    subject: str
    seq: int  # the order the service received the event in; per-subject order follows it
    event_time: datetime
    next_attempt_at: datetime
    status: str = PENDING
    attempts: int = 0
    last_status: int | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None

    @staticmethod
    def id_for(subscription_id: str, event_id: str) -> str:
        # One delivery per subscription and event: a redelivered event creates nothing twice.
        return f"{subscription_id}:{event_id}"

    def record(self, answer: Answer, schedule: Sequence[int], now: datetime) -> None:
        """Apply one attempt's answer: delivered, retry later, or failed for good."""
        self.attempts += 1
        self.last_status, self.last_error = answer.status, answer.error
        if answer.outcome == "success":
            self.status, self.delivered_at = DELIVERED, now
            return
        delay = None if answer.outcome == "gone" else next_delay(schedule, self.attempts)
        if delay is None:
            self.status = FAILED
        else:
            self.status, self.next_attempt_at = PENDING, now + timedelta(seconds=delay)

    def replay(self, now: datetime) -> bool:
        """Send again from the first attempt; False while it is still on its way."""
        if self.status in UNFINISHED:
            return False
        self.status, self.attempts, self.next_attempt_at = PENDING, 0, now
        self.last_status = self.last_error = self.delivered_at = None
        return True


@dataclass(frozen=True)
class Attempt:
    """One try at a delivery, as the owner sees it in the delivery log."""

    delivery_id: str
    subscription_id: str
    event_id: str
    event_type: str
    number: int
    at: datetime
    outcome: str
    status: int | None
    latency_ms: float
    error: str | None
    next_attempt_at: datetime | None

    @property
    def id(self) -> str:
        return f"{self.delivery_id}:{self.number}"
