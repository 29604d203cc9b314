"""What requests and answers look like: validation and the OpenAPI document in one place.

Input schemas refuse unknown fields (marshmallow's default); the rules that need the
inspection itself (rule X, the window, the sampled items) are the domain's.
"""

from __future__ import annotations

from datetime import datetime

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.inspections.domain.model import KINDS, OUTCOMES, STATUSES
from services.inspections.domain.sampling import STRATEGIES
from shared.clock import to_millis
from shared.events import ITEM_STATUSES
from shared.pagination import PageArgs, page_schema
from shared.schemas import known_county

MAX_ITEMS = 500
MAX_TEAM = 20
MAX_EVIDENCE = 20


class Instant(fields.AwareDateTime):
    """An RFC 3339 time with its offset, at millisecond precision."""

    def _deserialize(self, value, attr, data, **kwargs) -> datetime:
        return to_millis(super()._deserialize(value, attr, data, **kwargs))


_known_county = known_county("the issues service's GET /v1/divisions")


def _text(maximum: int, **kwargs) -> fields.String:
    return fields.String(validate=validate.Length(1, maximum), **kwargs)


class TeamMemberSchema(Schema):
    sub = _text(128, required=True, metadata={"description": "the inspector's token subject"})
    county = fields.String(required=True, validate=_known_county,
                           metadata={"description": "the inspector's home county (rule X)"})
    name = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100))


class SampleRequestSchema(Schema):
    strategy = fields.String(required=True, validate=validate.OneOf(STRATEGIES))
    size = fields.Integer(required=True, validate=validate.Range(1, MAX_ITEMS))
    status = fields.List(fields.String(validate=validate.OneOf(ITEM_STATUSES)),
                         load_default=None, validate=validate.Length(min=1),
                         metadata={"description": "draw only items in these statuses"})
    seed = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(0, 2**53),
                          metadata={"description": "repeat a draw; chosen at random if absent"})


class SampleSchema(SampleRequestSchema):
    seed = fields.Integer(required=True, metadata={"description": "the seed the draw used"})


class PlanSchema(Schema):
    target_county = fields.String(required=True, validate=_known_county)
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    team = fields.List(fields.Nested(TeamMemberSchema), required=True,
                       validate=validate.Length(1, MAX_TEAM))
    window_start = Instant(required=True)
    window_end = Instant(required=True)
    sample = fields.Nested(SampleRequestSchema, load_default=None)
    item_ids = fields.List(_text(128), load_default=None,
                           validate=validate.Length(1, MAX_ITEMS))

    @validates_schema
    def _sample_or_items(self, data: dict, **_kwargs) -> None:
        if (data.get("sample") is None) == (data.get("item_ids") is None):
            raise ValidationError("Give either a sample or explicit item_ids, not both.",
                                  "_schema")


class CheckInSchema(Schema):
    item_id = _text(128, required=True)
    outcome = fields.String(required=True, validate=validate.OneOf(OUTCOMES))
    findings = fields.String(load_default=None, allow_none=True,
                             validate=validate.Length(max=4000),
                             metadata={"description": "required for a failed check"})
    evidence = fields.List(_text(2048), load_default=list,
                           validate=validate.Length(max=MAX_EVIDENCE),
                           metadata={"description": "references to photos or documents"})
    observed_at = Instant(required=True)


class NewProblemSchema(Schema):
    township = _text(100, required=True)
    village = _text(100, required=True)
    problem = _text(4000, required=True)
    measure = _text(4000, required=True)


class ResultsSchema(Schema):
    checks = fields.List(fields.Nested(CheckInSchema), load_default=list,
                         validate=validate.Length(max=MAX_ITEMS))
    new_problems = fields.List(fields.Nested(NewProblemSchema), load_default=list,
                               validate=validate.Length(max=100))


class CancelSchema(Schema):
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1000))


class InspectionListArgs(PageArgs):
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))
    target_county = fields.String(load_default=None, validate=_known_county)


class CheckSchema(CheckInSchema):
    findings = fields.String(allow_none=True)


class SampledItemSchema(Schema):
    """An item as this service's copy knows it (never the responsible person)."""

    id = fields.String()
    township = fields.String()
    village = fields.String()
    problem = fields.String()
    measure = fields.String()
    deadline = fields.Date()
    status = fields.String()
    overdue = fields.Boolean()
    reopen_count = fields.Integer()
    overdue_count = fields.Integer()


class InspectionSchema(Schema):
    id = fields.String()
    target_county = fields.String()
    target_county_name = fields.String()
    kind = fields.String()
    status = fields.String(metadata={"enum": list(STATUSES)})
    team = fields.List(fields.Nested(TeamMemberSchema))
    window_start = fields.AwareDateTime()
    window_end = fields.AwareDateTime()
    sample = fields.Nested(SampleSchema, allow_none=True)
    item_count = fields.Integer()
    item_ids = fields.List(fields.String(), metadata={
        "description": "absent for an inspector until the inspection has started"})
    sampled_items = fields.List(fields.Nested(SampledItemSchema), metadata={
        "description": "the sampled items from the copy, in the detail view only"})
    planned_by = fields.String()
    planned_at = fields.AwareDateTime()
    started_at = fields.AwareDateTime(allow_none=True)
    started_by = fields.String(allow_none=True)
    completed_at = fields.AwareDateTime(allow_none=True)
    cancelled_at = fields.AwareDateTime(allow_none=True)
    cancelled_by = fields.String(allow_none=True)
    cancel_reason = fields.String(allow_none=True)
    checks = fields.List(fields.Nested(CheckSchema))
    new_problems = fields.List(fields.Nested(NewProblemSchema))
    version = fields.Integer()


InspectionPageSchema = page_schema(InspectionSchema, "InspectionPage")


class DrawArgs(SampleRequestSchema):
    """A sample to draw now, in the query: ``status`` may be given several times."""

    target_county = fields.String(required=True, validate=_known_county)


class DrawSchema(Schema):
    sample = fields.Nested(SampleSchema, metadata={
        "description": "plan with this sample (its seed) to draw the same items"})
    population = fields.Integer(metadata={"description": "how many items it drew from"})
    items = fields.List(fields.Nested(SampledItemSchema))
