"""CloudEvents 1.0 envelope (structured JSON mode) and the catalog of every event's data.

The catalog is the one description of our events: producers validate against it, consumers
read with it, and tools/events_doc.py writes docs/events.md from it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from shared.clock import now
from shared.domain import Change

SPECVERSION = "1.0"
ISSUES_TOPIC = "supervision.issues.v1"
INSPECTIONS_TOPIC = "supervision.inspections.v1"
TOPICS = (ISSUES_TOPIC, INSPECTIONS_TOPIC)
ITEM_STATUSES = ("open", "in_progress", "pending_verification", "closed", "reopened")


def dlq_topic(topic: str) -> str:
    return f"{topic}.dlq"


class _Data(Schema):
    """Event data is read tolerantly: fields we do not know yet are dropped, not refused."""

    class Meta:
        unknown = EXCLUDE


class ItemState(_Data):
    """The item as it stands after the change (event-carried state for other services)."""

    id = fields.String(required=True)
    county = fields.String(required=True)
    township = fields.String(required=True)
    village = fields.String(required=True)
    problem = fields.String(required=True)
    measure = fields.String(required=True)
    deadline = fields.Date(required=True)
    responsible = fields.String(load_default=None, allow_none=True)
    category = fields.String(load_default=None, allow_none=True)
    public = fields.Boolean(load_default=False)
    status = fields.String(required=True, validate=validate.OneOf(ITEM_STATUSES))
    overdue = fields.Boolean(load_default=False)
    overdue_count = fields.Integer(load_default=0)
    reopen_count = fields.Integer(required=True)
    version = fields.Integer(required=True)
    created_at = fields.AwareDateTime(required=True)
    updated_at = fields.AwareDateTime(required=True)
    closed_at = fields.AwareDateTime(load_default=None, allow_none=True)
    village_code = fields.String(load_default=None, allow_none=True, metadata={
        "description": "the village's 12-digit division code, where its name matched"})


class _ItemEvent(_Data):
    item = fields.Nested(ItemState, required=True)


class IssueCreated(_ItemEvent):
    inspection_id = fields.String(load_default=None, allow_none=True)


class IssueStatusChanged(_ItemEvent):
    from_ = fields.String(required=True, data_key="from")
    to = fields.String(required=True, validate=validate.OneOf(ITEM_STATUSES))
    reason = fields.String(load_default=None, allow_none=True)
    cause = fields.String(load_default=None, allow_none=True)
    actor = fields.String(load_default=None, allow_none=True)


class IssueReopened(_ItemEvent):
    inspection_id = fields.String(required=True)
    findings = fields.String(load_default=None, allow_none=True)
    observed_at = fields.AwareDateTime(required=True)
    reopen_count = fields.Integer(required=True)
    deadline = fields.Date(required=True)


class IssueClosed(_ItemEvent):
    closed_at = fields.AwareDateTime(required=True)
    actor = fields.String(load_default=None, allow_none=True)


class IssueOverdue(_ItemEvent):
    deadline = fields.Date(required=True)


class PlannedTeamMember(_Data):
    sub = fields.String(required=True)
    county = fields.String(required=True)
    name = fields.String(load_default=None, allow_none=True)


class InspectionPlanned(_Data):
    inspection_id = fields.String(required=True)
    target_county = fields.String(required=True)
    kind = fields.String(required=True)
    team = fields.List(fields.Nested(PlannedTeamMember), required=True)
    window_start = fields.AwareDateTime(required=True)
    window_end = fields.AwareDateTime(required=True)
    item_ids = fields.List(fields.String(), required=True)
    planned_at = fields.AwareDateTime(required=True)


class InspectionStarted(_Data):
    inspection_id = fields.String(required=True)
    target_county = fields.String(required=True)
    kind = fields.String(required=True)
    item_ids = fields.List(fields.String(), required=True)
    started_at = fields.AwareDateTime(required=True)
    started_by = fields.String(required=True)


class InspectionCheck(_Data):
    inspection_id = fields.String(required=True)
    item_id = fields.String(required=True)
    target_county = fields.String(required=True)
    outcome = fields.String(required=True, validate=validate.OneOf(("pass", "fail")))
    findings = fields.String(load_default=None, allow_none=True)
    evidence = fields.List(fields.String(), load_default=list)
    observed_at = fields.AwareDateTime(required=True)
    inspector = fields.String(load_default=None, allow_none=True)


class InspectionProblemFound(_Data):
    inspection_id = fields.String(required=True)
    county = fields.String(required=True)
    township = fields.String(required=True)
    village = fields.String(required=True)
    problem = fields.String(required=True)
    measure = fields.String(required=True)
    found_at = fields.AwareDateTime(required=True)


class InspectionCompleted(_Data):
    inspection_id = fields.String(required=True)
    target_county = fields.String(required=True)
    checks = fields.Integer(required=True)
    passed = fields.Integer(required=True)
    failed = fields.Integer(required=True)
    new_problems = fields.Integer(required=True)
    completed_at = fields.AwareDateTime(required=True)


@dataclass(frozen=True)
class EventType:
    name: str
    topic: str
    source: str
    schema: type[Schema]
    when: str
    key: Callable[[dict], str]  # the Kafka record key, from the envelope
    key_doc: str


def _subject(envelope: dict) -> str:
    return envelope["subject"]


def _checked_item(envelope: dict) -> str:
    return envelope["data"]["item_id"]


def _issue(name: str, schema: type[Schema], when: str) -> EventType:
    return EventType(name, ISSUES_TOPIC, "/services/issues", schema, when, _subject, "item id")


def _inspection(name: str, schema: type[Schema], when: str, key=_subject,
                key_doc: str = "inspection id") -> EventType:
    return EventType(name, INSPECTIONS_TOPIC, "/services/inspections", schema, when, key, key_doc)


CATALOG: dict[str, EventType] = {
    e.name: e
    for e in (
        _issue("issue.created", IssueCreated,
               "an item is created (by hand, import, or an inspection's new problem)"),
        _issue("issue.status_changed", IssueStatusChanged, "any lifecycle change"),
        _issue("issue.reopened", IssueReopened,
               "a closed item is reopened by a failed spot check (rule R)"),
        _issue("issue.closed", IssueClosed, "verified and crossed off (销号)"),
        _issue("issue.overdue", IssueOverdue,
               "deadline passed while not closed; once per deadline"),
        _inspection("inspection.planned", InspectionPlanned,
                    "city level only; never delivered to the target county (rule U)"),
        _inspection("inspection.started", InspectionStarted, "the team starts on site"),
        _inspection("inspection.check_passed", InspectionCheck,
                    "one per item that passed its check", _checked_item, "item id"),
        _inspection("inspection.check_failed", InspectionCheck,
                    "one per item that failed its check", _checked_item, "item id"),
        _inspection("inspection.problem_found", InspectionProblemFound,
                    "a new problem found on site"),
        _inspection("inspection.completed", InspectionCompleted, "results filed"),
    )
}


class Envelope(Schema):
    """The CloudEvents attributes we rely on; anything else in a record is ignored."""

    class Meta:
        unknown = EXCLUDE

    specversion = fields.String(required=True, validate=validate.Equal(SPECVERSION))
    id = fields.UUID(required=True)
    source = fields.String(required=True)
    type = fields.String(required=True, validate=validate.OneOf(tuple(CATALOG)))
    subject = fields.String(required=True)
    time = fields.AwareDateTime(required=True)
    datacontenttype = fields.String(load_default="application/json")
    county = fields.String(required=True)
    itemversion = fields.Integer(load_default=None, allow_none=True)
    data = fields.Dict(required=True)


_ENVELOPE = Envelope()


@dataclass(frozen=True)
class Event:
    """An event as a consumer sees it: attributes parsed, ``data`` loaded by its schema."""

    id: str
    type: str
    source: str
    subject: str
    time: datetime
    county: str
    itemversion: int | None
    data: dict
    raw: dict  # the envelope exactly as it was published, for re-delivery


class InvalidEvent(ValueError):
    """A record that is not one of our events; it belongs in the dead-letter topic."""


def new_event(type_: str, *, subject: str, county: str, data: dict,
              itemversion: int | None = None, time: datetime | None = None) -> dict:
    """Build a validated envelope, ready for an outbox. ``data`` may hold datetimes and dates."""
    spec = CATALOG[type_]
    schema = spec.schema()
    payload = schema.dump(data)
    errors = schema.validate(payload)
    if errors:
        raise ValueError(f"{type_} data does not match the catalog: {errors}")
    envelope = {
        "specversion": SPECVERSION,
        "id": str(uuid.uuid4()),
        "source": spec.source,
        "type": type_,
        "subject": subject,
        "time": (time or now()).isoformat(),
        "datacontenttype": "application/json",
        "county": county,
        "data": payload,
    }
    if itemversion is not None:
        envelope["itemversion"] = itemversion
    return envelope


def envelopes(changes: Iterable[Change], *, subject: str, county: str,
              carried: dict | None = None, itemversion: int | None = None) -> list[dict]:
    """The CloudEvents of what one change of an aggregate caused, to be saved with it: each
    with its ``Change``'s own subject and county where it names them, else the aggregate's,
    and ``carried`` (the state it carries) joined to its data."""
    return [new_event(c.type, subject=c.subject or subject, county=c.county or county,
                      data={**c.data, **(carried or {})}, itemversion=itemversion)
            for c in changes]


def encode(envelope: dict) -> bytes:
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()


def parse(value: bytes | None) -> Event:
    """Read a Kafka record value; raise InvalidEvent for anything that is not a valid event."""
    if value is None:
        raise InvalidEvent("the record has no value")
    try:
        raw = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidEvent(f"the record is not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise InvalidEvent("the record is not a JSON object")
    try:
        attrs = _ENVELOPE.load(raw)
        data = CATALOG[attrs["type"]].schema().load(attrs["data"])
    except ValidationError as exc:
        raise InvalidEvent(f"the event does not match the catalog: {exc.messages}") from exc
    return Event(id=str(attrs["id"]), type=attrs["type"], source=attrs["source"],
                 subject=attrs["subject"], time=attrs["time"], county=attrs["county"],
                 itemversion=attrs["itemversion"], data=data, raw=raw)


def record_key(envelope: dict) -> bytes:
    return CATALOG[envelope["type"]].key(envelope).encode()
