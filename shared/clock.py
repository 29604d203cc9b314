"""The time, as every service takes it."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)


def to_millis(moment: datetime) -> datetime:
    """Cut to the millisecond: BSON datetimes hold no more, so a time cut on the way in reads
    back equal, and the first answer agrees with every later read of the same thing."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def now_ms() -> datetime:
    """Now, to the millisecond (what the database keeps)."""
    return to_millis(now())
