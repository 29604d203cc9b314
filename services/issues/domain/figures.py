"""The kept figures (plain Python, no I/O): what each item counts for in its county's figures,
and the sums the ledger, the ranking, the dashboard and the gauges are read from.

A *tally* is a dict as stored, one per (county, writer):

    {"by_status": {status: n}, "reopened": n, "reopenings": n,
     "days_to_close": {"<days>": n},                   # closed items, how many took how long
     "due": {"<deadline>": {"n": n, "closed": n, "reopened": n}}}   # items by deadline day

Overdue is not kept: it depends on today, so it is read from ``due`` (items not closed whose
deadline is before today). The quarterly ranking sums the ``due`` days of its quarter. A county's
figures are the sum of its tallies, whichever writer kept them, so one tally may hold negative
counts (an item counted by one writer and moved on by another); only the sum is a figure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from services.issues.domain.model import CLOSED, STATUSES, local_date
from services.issues.domain.ranking import CountyFigures, Quarter


@dataclass(frozen=True)
class Counted:
    """What an item counts for, at one of its versions."""

    county: str
    version: int
    status: str
    deadline: str  # ISO date: sorts as a date
    reopen_count: int
    days_to_close: int | None  # of a closed item

    @classmethod
    def of(cls, state: dict) -> Counted:
        """From an item's state as events carry it (ItemState) or as the items collection
        keeps it (dates as dates or ISO strings)."""
        deadline = state["deadline"]
        closed_days = None
        if state["status"] == CLOSED:
            closed_days = state.get("days_to_close")
            if closed_days is None:
                closed_days = days_between(state["created_at"], state["closed_at"])
        return cls(county=state["county"], version=state["version"], status=state["status"],
                   deadline=deadline if isinstance(deadline, str) else deadline.isoformat(),
                   reopen_count=state.get("reopen_count") or 0, days_to_close=closed_days)

    def as_document(self) -> dict:
        return {"county": self.county, "version": self.version, "status": self.status,
                "deadline": self.deadline, "reopen_count": self.reopen_count,
                "days_to_close": self.days_to_close}

    @classmethod
    def from_document(cls, doc: dict) -> Counted:
        return cls(county=doc["county"], version=doc["version"], status=doc["status"],
                   deadline=doc["deadline"], reopen_count=doc["reopen_count"],
                   days_to_close=doc.get("days_to_close"))


def days_between(created_at: datetime, closed_at: datetime) -> int:
    """Days to close, as the domain counts them (local dates, never negative)."""
    return max((local_date(closed_at) - local_date(created_at)).days, 0)


def empty_tally() -> dict:
    return {"by_status": {}, "reopened": 0, "reopenings": 0, "days_to_close": {}, "due": {}}


def _bump(counts: dict, key: str, by: int) -> None:
    value = counts.get(key, 0) + by
    if value:
        counts[key] = value
    else:
        counts.pop(key, None)  # zeros are not kept: the documents stay as small as the data


def count(tally: dict, item: Counted, sign: int) -> None:
    """Add (``sign`` 1) or take away (-1) what ``item`` counts for."""
    _bump(tally["by_status"], item.status, sign)
    reopened = 1 if item.reopen_count > 0 else 0
    tally["reopened"] += sign * reopened
    tally["reopenings"] += sign * item.reopen_count
    closed = 1 if item.status == CLOSED else 0
    if closed and item.days_to_close is not None:
        _bump(tally["days_to_close"], str(item.days_to_close), sign)
    day = dict(tally["due"].get(item.deadline, {}))
    for name, by in (("n", 1), ("closed", closed), ("reopened", reopened)):
        _bump(day, name, sign * by)
    if day:
        tally["due"][item.deadline] = day
    else:
        tally["due"].pop(item.deadline, None)


def move(tally: dict, before: Counted | None, after: Counted) -> None:
    """The item went from ``before`` (None: not counted yet) to ``after``."""
    if before is not None:
        count(tally, before, -1)
    count(tally, after, 1)


def add(total: dict, tally: dict) -> None:
    """Add the tally to the running ``total`` (both as empty_tally makes them)."""
    for name in ("reopened", "reopenings"):
        total[name] += tally.get(name, 0)
    for name in ("by_status", "days_to_close"):
        for key, n in tally.get(name, {}).items():
            _bump(total[name], key, n)
    for day, figures in tally.get("due", {}).items():
        into = dict(total["due"].get(day, {}))
        for key, n in figures.items():
            _bump(into, key, n)
        if into:
            total["due"][day] = into
        else:
            total["due"].pop(day, None)


def by_county(tallies: Iterable[dict]) -> dict[str, dict]:
    """The county figures: the sum of every tally of each county (each carries ``county``)."""
    totals: dict[str, dict] = {}
    for tally in tallies:
        add(totals.setdefault(tally["county"], empty_tally()), tally)
    return totals


def overdue(tally: dict, today: date, *, since: date | None = None) -> int:
    """Items not closed whose deadline is before ``today`` (and on or after ``since``)."""
    before, start = today.isoformat(), since.isoformat() if since else ""
    return sum(d.get("n", 0) - d.get("closed", 0) for day, d in tally["due"].items()
               if start <= day < before)


def median(counts: dict[int, int]) -> float | None:
    """The median of values given as {value: how many times it occurs}."""
    total = sum(counts.values())
    if not total:
        return None

    def nth(index: int) -> int:
        seen = 0
        for value in sorted(counts):
            seen += counts[value]
            if index < seen:
                return value
        raise IndexError(index)

    return (nth((total - 1) // 2) + nth(total // 2)) / 2


def ledger_row(county: str, tally: dict, today: date) -> dict:
    """One county's row of the ledger (工作台账), without its name."""
    statuses = {s: tally["by_status"].get(s, 0) for s in STATUSES}
    total = sum(statuses.values())
    return {
        "county": county, "total": total, "by_status": statuses,
        "overdue": overdue(tally, today), "reopened": tally["reopened"],
        "reopenings": tally["reopenings"],
        "closure_rate": round(statuses[CLOSED] / total, 4) if total else None,
        "median_days_to_close": median({int(d): n for d, n in tally["days_to_close"].items()}),
    }


def quarter_figures(county: str, tally: dict, quarter: Quarter, today: date) -> CountyFigures:
    """The ranking's figures of one county: its items due in ``quarter``."""
    first, after = quarter.first_day.isoformat(), quarter.next_first_day.isoformat()
    due = [d for day, d in tally["due"].items() if first <= day < after]
    return CountyFigures(
        county, sum(d.get("n", 0) for d in due), sum(d.get("closed", 0) for d in due),
        overdue(tally, min(today, quarter.next_first_day), since=quarter.first_day),
        sum(d.get("reopened", 0) for d in due))
