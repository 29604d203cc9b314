"""The inspection aggregate and the rules it keeps: U (unannounced) and X (cross-county).

An inspection is planned by the city against one target county, started on site by a member
of its team, and completed by one filing of results; the city may cancel it before that.
Every change bumps ``version`` and returns the events it causes as ``Change`` values, as the
issues service's items do; the handlers make CloudEvents of them and save them with the change.
Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from shared.domain import SCOPED_ROLES, Caller, Change, DomainError, NotPermitted, WrongState

PLANNED, IN_PROGRESS, COMPLETED, CANCELLED = "planned", "in_progress", "completed", "cancelled"
STATUSES = (PLANNED, IN_PROGRESS, COMPLETED, CANCELLED)
KINDS = ("patrol", "special", "spot_check")
PASS, FAIL = "pass", "fail"
OUTCOMES = (PASS, FAIL)


class InvalidRequest(DomainError):
    """What was asked breaks a rule of the inspection (422)."""


class WrongStatus(WrongState):
    """The inspection is not in a state that allows this (409)."""


@dataclass(frozen=True)
class TeamMember:
    sub: str
    county: str
    name: str | None = None


@dataclass(frozen=True)
class CopiedItem:
    """An item as this service last heard of it from the issues service (event-carried state)."""

    id: str
    county: str
    township: str
    village: str
    problem: str
    measure: str
    deadline: date
    status: str
    reopen_count: int
    overdue: bool
    overdue_count: int
    closed_at: datetime | None
    version: int


@dataclass(frozen=True)
class Sample:
    """How the items were drawn, so that the draw can be repeated (see docs/sampling.md)."""

    strategy: str
    size: int
    seed: int
    status: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Check:
    item_id: str
    outcome: str
    observed_at: datetime
    findings: str | None = None
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True)
class NewProblem:
    township: str
    village: str
    problem: str
    measure: str


@dataclass(frozen=True)
class Filing:
    """Who filed the results and under which Idempotency-Key, to recognise a retry."""

    by: str
    at: datetime
    key: str | None
    fingerprint: str


def rule_x_violations(target_county: str, team: list[TeamMember]) -> dict[str, list[str]]:
    """Rule X: no member of the team may have the target county as their home county."""
    return {
        str(i): [f"{m.sub} has {m.county} as home county, which is the target county: "
                 "no inspector may inspect their own home county (rule X)."]
        for i, m in enumerate(team) if m.county == target_county
    }


@dataclass
class Inspection:
    id: str
    target_county: str
    kind: str
    team: list[TeamMember]
    window_start: datetime
    window_end: datetime
    item_ids: list[str]
    planned_by: str
    planned_at: datetime
    sample: Sample | None = None
    status: str = PLANNED
    started_at: datetime | None = None
    started_by: str | None = None
    completed_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancelled_by: str | None = None
    cancel_reason: str | None = None
    checks: list[Check] = field(default_factory=list)
    new_problems: list[NewProblem] = field(default_factory=list)
    filing: Filing | None = None
    fingerprint: str | None = None  # of the planning request, for Idempotency-Key retries
    version: int = 0

    @classmethod
    def plan(cls, *, id: str, target_county: str, kind: str, team: list[TeamMember],
             window_start: datetime, window_end: datetime, item_ids: list[str],
             planned_by: str, now: datetime, sample: Sample | None = None,
             fingerprint: str | None = None) -> tuple[Inspection, list[Change]]:
        errors: dict[str, list | dict] = {}
        if kind not in KINDS:
            errors["kind"] = [f"Must be one of {', '.join(KINDS)}."]
        team_errors = rule_x_violations(target_county, team)
        seen: set[str] = set()
        for i, member in enumerate(team):
            if member.sub in seen:
                team_errors.setdefault(str(i), []).append(f"{member.sub} appears twice.")
            seen.add(member.sub)
        if not team:
            errors["team"] = ["An inspection needs a team of at least one inspector."]
        elif team_errors:
            errors["team"] = team_errors
        if window_start >= window_end:
            errors["window_end"] = ["The window must end after it starts."]
        elif window_end <= now:
            errors["window_end"] = ["The window has already ended."]
        if not item_ids:
            errors["item_ids"] = ["An inspection needs at least one item to check."]
        elif len(set(item_ids)) != len(item_ids):
            errors["item_ids"] = ["An item appears twice."]
        if errors:
            raise InvalidRequest(_summary("The inspection cannot be planned", errors), errors)
        inspection = cls(id=id, target_county=target_county, kind=kind, team=list(team),
                         window_start=window_start, window_end=window_end,
                         item_ids=list(item_ids), planned_by=planned_by, planned_at=now,
                         sample=sample, fingerprint=fingerprint)
        # Rule U: the county attribute is the target, so that delivery can keep it from them.
        return inspection, [inspection._change("inspection.planned", {
            "inspection_id": id, "target_county": target_county, "kind": kind,
            "team": [{"sub": m.sub, "county": m.county, "name": m.name} for m in team],
            "window_start": window_start, "window_end": window_end, "item_ids": list(item_ids),
            "planned_at": now})]

    # --- who may see what (rule U) -------------------------------------------------------

    @property
    def announced(self) -> bool:
        """Whether the target county may know of it: only once the team started on site."""
        return self.started_at is not None

    def on_team(self, viewer: Caller) -> bool:
        return viewer.role == "inspector" and any(m.sub == viewer.sub for m in self.team)

    def visible_to(self, viewer: Caller) -> bool:
        """Rule U as a predicate. The repository's list query states the same in MongoDB terms.

        An inspector whose home county is the target is treated like that county (rule X): an
        unannounced inspection stays hidden from them even if the city put them on the team.
        """
        if viewer.role == "city_admin":
            return viewer.sees_county(self.target_county)
        if viewer.role == "inspector":
            return self.on_team(viewer) and (viewer.county != self.target_county
                                             or self.announced)
        if viewer.role in SCOPED_ROLES:
            return viewer.county == self.target_county and self.announced
        return False

    def shows_items_to(self, viewer: Caller) -> bool:
        """The sampled items are the city's secret until the team is on site."""
        return self.visible_to(viewer) and (viewer.role == "city_admin" or self.announced)

    # --- changes ---------------------------------------------------------------------------

    def start(self, by: Caller, now: datetime) -> list[Change]:
        self._check_team_member(by, "start")
        if self.status != PLANNED:
            raise WrongStatus(f"The inspection is {self.status}; only a planned one can start.")
        if not self.window_start <= now <= self.window_end:
            raise WrongStatus(
                f"The inspection can start only within its window, {self.window_start.isoformat()}"
                f" to {self.window_end.isoformat()}.")
        self.status, self.started_at, self.started_by = IN_PROGRESS, now, by.sub
        self.version += 1
        return [self._change("inspection.started", {
            "inspection_id": self.id, "target_county": self.target_county, "kind": self.kind,
            "item_ids": list(self.item_ids), "started_at": now, "started_by": by.sub})]

    def is_retry_of_filing(self, by: Caller, key: str | None, fingerprint: str) -> bool:
        """Whether this request repeats the filing already made (same caller, key and body).

        The same key with another body, or a second filing under another key, is a conflict.
        """
        if self.filing is None or key is None or self.filing.key != key:
            return False
        if self.filing.by != by.sub or self.filing.fingerprint != fingerprint:
            raise WrongStatus("This Idempotency-Key was used for other results; "
                              "the results of this inspection are already filed.")
        return True

    def file_results(self, by: Caller, checks: list[Check], new_problems: list[NewProblem],
                     now: datetime, *, key: str | None, fingerprint: str) -> list[Change]:
        """One filing completes the inspection: a check event per item, one per new problem."""
        self._check_team_member(by, "file results of")
        if self.status != IN_PROGRESS:
            raise WrongStatus(
                f"The inspection is {self.status}; results are filed once, while in progress.")
        errors = self._check_errors(checks, now)
        if not checks and not new_problems:
            errors["_schema"] = ["File at least one check or one new problem."]
        if errors:
            raise InvalidRequest(_summary("The results cannot be filed", errors), errors)
        self.status, self.completed_at = COMPLETED, now
        self.checks, self.new_problems = list(checks), list(new_problems)
        self.filing = Filing(by=by.sub, at=now, key=key, fingerprint=fingerprint)
        self.version += 1
        changes = [self._change(
            f"inspection.check_{'passed' if check.outcome == PASS else 'failed'}", {
                "inspection_id": self.id, "item_id": check.item_id,
                "target_county": self.target_county, "outcome": check.outcome,
                "findings": check.findings, "evidence": list(check.evidence),
                "observed_at": check.observed_at, "inspector": by.sub}, subject=check.item_id)
            for check in checks]
        changes += [self._change("inspection.problem_found", {
            "inspection_id": self.id, "county": self.target_county,
            "township": problem.township, "village": problem.village,
            "problem": problem.problem, "measure": problem.measure, "found_at": now})
            for problem in new_problems]
        failed = sum(1 for c in checks if c.outcome == FAIL)
        changes.append(self._change("inspection.completed", {
            "inspection_id": self.id, "target_county": self.target_county,
            "checks": len(checks), "passed": len(checks) - failed, "failed": failed,
            "new_problems": len(new_problems), "completed_at": now}))
        return changes

    def check_may_add_evidence(self, by: Caller) -> None:
        """Photos are taken on site: by the team, while the inspection is in progress."""
        self._check_team_member(by, "add evidence to")
        if self.status != IN_PROGRESS:
            raise WrongStatus(f"The inspection is {self.status}; photos are added while it is "
                              "in progress, before the results are filed.")

    def cancel(self, by: Caller, now: datetime, reason: str | None = None) -> list[Change]:
        """The city calls off a planned or running inspection. No event: the contract has none,
        and a cancelled plan that never started must stay unknown to its county (rule U)."""
        if by.role != "city_admin":
            raise NotPermitted("Only the city may cancel an inspection.")
        if self.status not in (PLANNED, IN_PROGRESS):
            raise WrongStatus(f"The inspection is {self.status}; it can no longer be cancelled.")
        self.status, self.cancelled_at = CANCELLED, now
        self.cancelled_by, self.cancel_reason = by.sub, reason
        self.version += 1
        return []

    # --- helpers ---------------------------------------------------------------------------

    def _check_team_member(self, by: Caller, what: str) -> None:
        if not self.on_team(by):
            raise NotPermitted(f"Only an inspector on the team may {what} this inspection.")
        if by.county == self.target_county:
            raise NotPermitted(f"Your home county {by.county} is the target county: no inspector "
                             "may inspect their own home county (rule X).")

    def _check_errors(self, checks: list[Check], now: datetime) -> dict:
        sampled = set(self.item_ids)
        seen: set[str] = set()
        per_check: dict[str, dict[str, list[str]]] = {}
        for i, check in enumerate(checks):
            problems: dict[str, list[str]] = {}
            if check.item_id not in sampled:
                problems["item_id"] = [f"{check.item_id} is not among this inspection's items."]
            elif check.item_id in seen:
                problems["item_id"] = [f"{check.item_id} is checked twice in this filing."]
            seen.add(check.item_id)
            if check.outcome not in OUTCOMES:
                problems["outcome"] = [f"Must be one of {', '.join(OUTCOMES)}."]
            elif check.outcome == FAIL and not (check.findings or "").strip():
                problems["findings"] = ["A failed check must say what was found."]
            if check.observed_at > now:
                problems["observed_at"] = ["Lies in the future."]
            elif not self.window_start <= check.observed_at <= self.window_end:
                problems["observed_at"] = ["Lies outside the inspection window."]
            if problems:
                per_check[str(i)] = problems
        return {"checks": per_check} if per_check else {}

    def _change(self, type_: str, data: dict, subject: str | None = None) -> Change:
        # ``county`` is the CloudEvents county attribute: the target, so delivery can keep
        # inspection.planned from it (rule U).
        return Change(type_, data, subject=subject or self.id, county=self.target_county)


def _summary(what: str, errors: dict) -> str:
    """The detail line: the first few messages, so that a reader sees what is wrong at once."""
    messages = list(_leaves(errors))
    more = f" (and {len(messages) - 3} more)" if len(messages) > 3 else ""
    return f"{what}: {' '.join(messages[:3])}{more}"


def _leaves(errors: dict | list):
    if isinstance(errors, list):
        yield from errors
        return
    for value in errors.values():
        yield from _leaves(value)
