"""The kept figures (plain Python, no I/O): what each item counts for in its county's figures,
and the sums the ledger, the ranking, the dashboard and the gauges are read from.

A *tally* is a dict as stored, one per (county, writer):

    {"by_status": {status: n}, "reopened": n, "reopenings": n,
     "days_to_close": {"<days>": n},                   # closed items, how many took how long
     "due": {"<deadline>": {"n": n, "closed": n, "reopened": n}}}   # items by deadline day

Overdue is not kept: it depends on today, so it is read from ``due`` (items not closed whose
deadline is before today). The quarterly ranking sums the ``due`` days of its quarter. The
reports read a county's *summary* (``summary``): its tally as of one day, the deadline days
summed per quarter. A county's
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
            closed_days = state.get("days_to_close")  # events carry when, not how long
            if closed_days is None and state.get("closed_at") is not None:
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


def summary(tally: dict, today: date) -> dict:
    """What the reports read of a county, as of ``today``: its tally with the deadline days
    summed per quarter of the deadline, as [items, closed, reopened, overdue today]. A few
    hundred bytes a county, where the tally keeps every deadline day."""
    quarters: dict[str, list[int]] = {}
    before = today.isoformat()
    for day, d in tally["due"].items():
        row = quarters.setdefault(str(Quarter.of(date.fromisoformat(day))), [0, 0, 0, 0])
        n, closed = d.get("n", 0), d.get("closed", 0)
        row[0] += n
        row[1] += closed
        row[2] += d.get("reopened", 0)
        row[3] += n - closed if day < before else 0
    return {"by_status": dict(tally["by_status"]), "reopened": tally["reopened"],
            "reopenings": tally["reopenings"], "days_to_close": dict(tally["days_to_close"]),
            "quarters": quarters}


def summed(summaries: Iterable[dict]) -> dict:
    """Several counties' summaries as one (a city's), as ``summary`` makes them: counts and
    distributions add up, so the median days to close is the city's own, not a mean of medians."""
    total: dict = {"by_status": {}, "reopened": 0, "reopenings": 0, "days_to_close": {},
                   "quarters": {}}
    for kept in summaries:
        total["reopened"] += kept["reopened"]
        total["reopenings"] += kept["reopenings"]
        for name in ("by_status", "days_to_close"):
            for key, n in kept[name].items():
                total[name][key] = total[name].get(key, 0) + n
        for quarter, row in kept["quarters"].items():
            into = total["quarters"].setdefault(quarter, [0, 0, 0, 0])
            for i, n in enumerate(row):
                into[i] += n
    return total


def ledger_row(county: str, kept: dict) -> dict:
    """One county's row of the ledger (工作台账) from its summary, without its name."""
    statuses = {s: kept["by_status"].get(s, 0) for s in STATUSES}
    total = sum(statuses.values())
    return {
        "county": county, "total": total, "by_status": statuses,
        "overdue": sum(row[3] for row in kept["quarters"].values()),
        "reopened": kept["reopened"], "reopenings": kept["reopenings"],
        "closure_rate": round(statuses[CLOSED] / total, 4) if total else None,
        "median_days_to_close": median({int(d): n for d, n in kept["days_to_close"].items()}),
    }


def quarter_figures(county: str, kept: dict, quarter: Quarter) -> CountyFigures:
    """The ranking's figures of one county from its summary: its items due in ``quarter``."""
    items, closed, reopened, late = kept["quarters"].get(str(quarter), (0, 0, 0, 0))
    return CountyFigures(county, items, closed, late, reopened)
