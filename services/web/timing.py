"""Times as people here read and write them: Beijing time (UTC+8, no daylight saving)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")


def beijing(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(BEIJING)


def now() -> datetime:
    return datetime.now(BEIJING)


def from_local_input(value: str) -> datetime:
    """A ``datetime-local`` field's value (no offset) read as Beijing time."""
    return datetime.fromisoformat(value).replace(tzinfo=BEIJING)
