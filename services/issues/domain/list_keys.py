"""What an item keeps so that every list filter is a set of plain equalities (docs/issues.md,
"Lists at size"): pure functions of the item's state, written with every state of it.

FerretDB 1.24 hands its storage only top-level equalities, so each filter that is a range or a
text match gets a key it can ask for by equality, and the exact condition is checked on what
the equalities selected. The creation buckets let a page without a selective equality be read
bucket by bucket in creation order.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from services.issues.domain.model import CLOSED, Item
from shared import divisions

# Creation buckets, coarse to fine (UTC): a list reads a finer one only where a coarser one
# holds more than a probe's worth of matching items.
CREATED = ("created_month", "created_day", "created_hour", "created_minute")
_FORMATS = ("%Y-%m", "%Y-%m-%d", "%Y-%m-%dT%H", "%Y-%m-%dT%H:%M")
ANNOUNCED, CLOSED_KEY = "announced", "closed"


def created_buckets(created_at: datetime) -> tuple[str, ...]:
    moment = created_at.astimezone(UTC)
    return tuple(moment.strftime(form) for form in _FORMATS)


def month(day: date) -> str:
    return day.isoformat()[:7]


def overdue_key(item: Item) -> str:
    """``closed``; ``announced`` when the scheduler announced the passing of the current
    deadline (overdue then until closed, as time only moves on; a new deadline clears the
    announcement); else ``due:<month>`` of the deadline, overdue once that day is past."""
    if item.status == CLOSED:
        return CLOSED_KEY
    if item.overdue_announced_for == item.deadline:
        return ANNOUNCED
    return due(month(item.deadline))


def due(deadline_month: str) -> str:
    return f"due:{deadline_month}"


def tokens(*texts: str) -> list[str]:
    """Every pair of neighbouring characters of the texts: a text search (Chinese has no spaces
    between words) of two characters or more asks for one of them by equality."""
    return sorted({text[n:n + 2] for text in texts for n in range(len(text) - 1)})


def search_token(q: str) -> str:
    """The token every text containing ``q`` (two characters or more) has."""
    return q[:2]


def list_keys(item: Item) -> dict:
    updated = item.updated_at.astimezone(UTC)
    return {
        **dict(zip(CREATED, created_buckets(item.created_at), strict=True)),
        "deadline_month": month(item.deadline),
        "overdue_key": overdue_key(item),
        "updated_month": month(updated.date()),
        "updated_day": updated.date().isoformat(),
        "city": divisions.current().city_of(item.county),
        "tokens": tokens(item.problem, item.measure, item.village),
    }


KEYS = (*CREATED, "deadline_month", "overdue_key", "updated_month", "updated_day", "city",
        "tokens")


def updated_since(since: datetime, now: datetime, first_created: str) -> list[dict]:
    """Equalities that together select every item updated from ``since`` to ``now`` (and a day
    beyond, for clocks a little ahead): the days left of ``since``'s month, the months after.
    No item was updated before the first creation month (``first_created``, "YYYY-MM"), so a
    ``since`` before it starts there: the months asked for span the data, not the calendar."""
    first = max(since.astimezone(UTC).date(), date.fromisoformat(f"{first_created}-01"))
    last = (now.astimezone(UTC) + timedelta(days=1)).date()
    days = []
    day = first
    while day <= last and month(day) == month(first):
        days.append({"updated_day": day.isoformat()})
        day += timedelta(days=1)
    months = []
    while day <= last:
        months.append({"updated_month": month(day)})
        day = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
    return days + months
