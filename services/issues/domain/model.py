"""Rectification items (问题清单): their lifecycle, who may move them, rule R and overdue notices.

Plain Python, no I/O. Every change goes through a method of ``Item`` that checks the rule,
appends a history entry, bumps ``version`` and returns the events it causes as ``Change``
values; handlers turn those into CloudEvents and save them with the item in one write.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from shared import divisions
from shared.domain import Caller, Change, DomainError, NotPermitted, WrongState

OPEN, IN_PROGRESS, PENDING, CLOSED, REOPENED = (
    "open", "in_progress", "pending_verification", "closed", "reopened")
STATUSES = (OPEN, IN_PROGRESS, PENDING, CLOSED, REOPENED)

SYSTEM = "system"  # this service itself, acting on an event (an inspection's new problem)
# Dates (deadlines, "today", the day a check was observed) are those of the people concerned.
LOCAL_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")


class TransitionNotAllowed(WrongState):
    """The lifecycle has no such move from the item's current status."""


class MissingInput(DomainError):
    """The move needs something the request did not give (evidence, a reason)."""


@dataclass(frozen=True)
class ReportedCheck:
    """One spot check of one item by an inspection team, as the inspections service reported it
    (its event), which is what rule R applies."""

    event_id: str
    inspection_id: str
    passed: bool
    observed_at: datetime
    findings: str | None = None
    evidence: tuple[str, ...] = ()
    inspector: str | None = None


@dataclass(frozen=True)
class Move:
    who: str  # "county": the item's county admin or the city; "city": the city only
    cause: str  # recorded in history and in issue.status_changed
    needs: str | None = None  # "evidence" or "reason"


# The lifecycle (docs/domain.md). Leaving ``closed`` is not here: only rule R reopens.
MOVES: dict[tuple[str, str], Move] = {
    (OPEN, IN_PROGRESS): Move("county", "started"),
    (IN_PROGRESS, PENDING): Move("county", "submitted", needs="evidence"),
    (REOPENED, IN_PROGRESS): Move("county", "restarted"),
    (PENDING, CLOSED): Move("city", "verified"),
    (PENDING, IN_PROGRESS): Move("city", "rejected", needs="reason"),
}


def local_date(moment: datetime) -> date:
    return moment.astimezone(LOCAL_TZ).date()


@dataclass
class Item:
    id: str
    county: str
    township: str
    village: str
    problem: str
    measure: str
    deadline: date
    created_at: datetime
    updated_at: datetime
    responsible: str | None = None
    category: str | None = None
    public: bool = False
    status: str = OPEN
    version: int = 1
    reopen_count: int = 0
    overdue_count: int = 0
    # The deadline whose passing was announced; None until then, and again after a new deadline.
    overdue_announced_for: date | None = None
    # When the item was last crossed off; kept after a reopening, because a failure observed
    # before that moment must never reopen the item again (rule R, late events).
    closed_at: datetime | None = None
    days_to_close: int | None = None
    inspection_id: str | None = None  # the inspection that found the problem, if one did
    # The village's division code where ``village`` matched the division codes under the
    # county; the text as written stays the item's village either way.
    village_code: str | None = None
    history: list[dict] = field(default_factory=list)
    processed_events: list[str] = field(default_factory=list)

    @classmethod
    def create(cls, *, id: str, actor: Caller, at: datetime, county: str, township: str,
               village: str, problem: str, measure: str, deadline: date,
               responsible: str | None = None, category: str | None = None,
               public: bool = False, cause: str = "created",
               inspection_id: str | None = None,
               village_code: str | None = None) -> tuple[Item, list[Change]]:
        region = divisions.current()
        if not region.is_county(county):
            raise DomainError(f"{county} is not a county of {region.name} {region.code}.",
                              field="county")
        if not (actor.role == SYSTEM or actor.administers(county)):
            raise NotPermitted(f"{actor.role} {actor.sub} may not add items to county {county}.",
                               field="county")
        item = cls(id=id, county=county, township=township, village=village, problem=problem,
                   measure=measure, deadline=deadline, responsible=responsible,
                   category=category, public=public, created_at=at, updated_at=at,
                   inspection_id=inspection_id, village_code=village_code)
        item.history.append(_entry(at, actor.sub, None, OPEN, None, cause,
                                   inspection_id=inspection_id))
        return item, [Change("issue.created", {"inspection_id": inspection_id})]

    def is_overdue(self, today: date) -> bool:
        return self.status != CLOSED and self.deadline < today

    def transition(self, to: str, *, actor: Caller, at: datetime, reason: str | None = None,
                   evidence: list[str] | None = None) -> list[Change]:
        """A person moves the item along its lifecycle (POST /v1/items/{id}/transitions)."""
        move = MOVES.get((self.status, to))
        if move is None:
            allowed = sorted(t for (f, t) in MOVES if f == self.status)
            hint = (f"; from {self.status} it may go to {', '.join(allowed)}" if allowed else
                    "; a closed item is only reopened by a failed inspection")
            raise TransitionNotAllowed(f"An item cannot go from {self.status} to {to}{hint}.",
                                       field="to")
        if not actor.administers(self.county) or (move.who == "city" and not actor.is_city):
            who = "the city" if move.who == "city" else "the item's county or the city"
            raise NotPermitted(f"Only {who} may move an item from {self.status} to {to}.")
        evidence = [e for e in (evidence or []) if e and e.strip()]
        if move.needs == "evidence" and not evidence:
            raise MissingInput("Asking for verification needs evidence of the rectification.",
                               field="evidence")
        reason = reason.strip() if reason and reason.strip() else None
        if move.needs == "reason" and not reason:
            raise MissingInput("Rejecting a verification needs a reason.", field="reason")
        return self._move(to, at=at, actor=actor.sub, reason=reason, cause=move.cause,
                          evidence=evidence or None)

    def apply_check(self, check: ReportedCheck, *, at: datetime,
                    reopen_deadline_days: int) -> list[Change]:
        """Rule R (倒逼整改): what a spot check does to the item, recorded ``at``. A check
        already applied (the same event delivered again) changes nothing."""
        if check.event_id in self.processed_events:
            return []
        self.processed_events.append(check.event_id)
        actor = check.inspector or f"inspection:{check.inspection_id}"
        detail = {"inspection_id": check.inspection_id, "findings": check.findings,
                  "evidence": list(check.evidence) or None, "observed_at": check.observed_at}
        if check.passed:
            return self._note(at, actor, "inspection.check_passed", **detail)
        if self.closed_at is not None and check.observed_at < self.closed_at:
            # Late news: the failure predates the last closure, which was verified after it.
            return self._note(at, actor, "inspection.check_failed.stale",
                              reason="observed before the item was last closed", **detail)
        if self.status == CLOSED:
            self.reopen_count += 1
            self.deadline = local_date(check.observed_at) + timedelta(days=reopen_deadline_days)
            self.overdue_announced_for = None
            changes = self._move(REOPENED, at=at, actor=actor,
                                 reason=check.findings, cause="inspection.check_failed", **detail)
            reopened = Change("issue.reopened", {
                "inspection_id": check.inspection_id, "findings": check.findings,
                "observed_at": check.observed_at, "reopen_count": self.reopen_count,
                "deadline": self.deadline})
            return [reopened, *changes]
        if self.status == PENDING:
            return self._move(IN_PROGRESS, at=at, actor=actor,
                              reason=check.findings, cause="inspection.check_failed", **detail)
        return self._note(at, actor, "inspection.check_failed",
                          reason=check.findings, **detail)

    def announce_overdue(self, today: date, at: datetime) -> list[Change]:
        """Once per deadline: the item is past it and not closed."""
        if not self.is_overdue(today) or self.overdue_announced_for == self.deadline:
            return []
        self.overdue_announced_for = self.deadline
        self.overdue_count += 1
        self._note(at, "system:overdue-scan", "overdue",
                   reason=f"deadline {self.deadline.isoformat()} passed")
        return [Change("issue.overdue", {"deadline": self.deadline})]

    def snapshot(self, today: date) -> dict:
        """The item as events and the API show it (ItemState in shared.events), no history."""
        return {
            "id": self.id, "county": self.county, "township": self.township,
            "village": self.village, "problem": self.problem, "measure": self.measure,
            "deadline": self.deadline, "responsible": self.responsible,
            "category": self.category, "public": self.public, "status": self.status,
            "overdue": self.is_overdue(today), "overdue_count": self.overdue_count,
            "reopen_count": self.reopen_count, "version": self.version,
            "created_at": self.created_at, "updated_at": self.updated_at,
            "closed_at": self.closed_at, "inspection_id": self.inspection_id,
            "village_code": self.village_code,
        }

    def _move(self, to: str, *, at: datetime, actor: str, reason: str | None, cause: str,
              **detail) -> list[Change]:
        before = self.status
        self.status = to
        # "from_": the catalog's attribute for "from", a Python keyword (data_key "from").
        changes = [Change("issue.status_changed",
                          {"from_": before, "to": to, "reason": reason, "cause": cause,
                           "actor": actor})]
        if to == CLOSED:
            self.closed_at = at
            self.days_to_close = max((local_date(at) - local_date(self.created_at)).days, 0)
            changes.append(Change("issue.closed", {"closed_at": at, "actor": actor}))
        self._record(_entry(at, actor, before, to, reason, cause, **detail))
        return changes

    def _note(self, at: datetime, actor: str, cause: str, *, reason: str | None = None,
              **detail) -> list[Change]:
        """A change of the item's record that leaves its status as it is."""
        self._record(_entry(at, actor, self.status, self.status, reason, cause, **detail))
        return []

    def _record(self, entry: dict) -> None:
        self.history.append(entry)
        self.version += 1
        self.updated_at = entry["at"]


def _entry(at: datetime, actor: str, before: str | None, after: str, reason: str | None,
           cause: str, **detail) -> dict:
    entry = {"at": at, "actor": actor, "from": before, "to": after, "reason": reason,
             "cause": cause}
    entry.update({k: v for k, v in detail.items() if v is not None})
    return entry
