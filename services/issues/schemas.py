"""What the issues API takes and gives: one marshmallow schema per shape, which also writes the
OpenAPI document. Input schemas refuse unknown fields."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate

from services.issues import importing
from services.issues.domain.model import STATUSES
from shared import divisions
from shared.pagination import PageArgs
from shared.schemas import known_county

TEXT = validate.Length(min=1, max=2000)
NAME = validate.Length(min=1, max=100)


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("Must not be blank.")


_known_county = known_county()


def _known_city(code: str) -> None:
    region = divisions.current()
    if code not in region.cities:
        raise ValidationError(f"{code} is not a city of {region.name} {region.code}; "
                              "GET /v1/divisions lists them.")


def _text(length=TEXT, **kwargs) -> fields.String:
    return fields.String(validate=[length, _not_blank], **kwargs)


class ItemCreateSchema(Schema):
    county = fields.String(required=True, validate=_known_county,
                           metadata={"description": "county code, e.g. 330602"})
    township = _text(NAME, required=True, metadata={"description": "乡镇街道"})
    village = _text(NAME, required=True, metadata={"description": "村社区"})
    problem = _text(required=True, metadata={"description": "存在问题"})
    measure = _text(required=True, metadata={"description": "整改措施"})
    deadline = fields.Date(required=True, metadata={"description": "完成时间, ISO date"})
    responsible = fields.String(load_default=None, allow_none=True, validate=NAME,
                                metadata={"description": "责任人; never shown on the board"})
    category = fields.String(load_default=None, allow_none=True, validate=NAME,
                             metadata={"description": "类别, e.g. 软弱落后"})
    public = fields.Boolean(load_default=False, metadata={"description": "上墙公示"})


class _CountyCell(fields.Field):
    def _deserialize(self, value, attr, data, **kwargs):
        region = divisions.current()
        code = region.county_code(str(value))
        if code is None:
            raise ValidationError(f"{value} is not a county code or name of {region.name}.")
        return code


class _DeadlineCell(fields.Field):
    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return importing.parse_deadline(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc


class _PublicCell(fields.Field):
    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return importing.parse_public(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc


class ImportRowSchema(Schema):
    """One row of a county list; errors are reported under the Chinese column names."""

    county = _CountyCell(required=True, data_key="县区代码")
    township = _text(NAME, required=True, data_key="乡镇街道")
    village = _text(NAME, required=True, data_key="村社区")
    problem = _text(required=True, data_key="存在问题")
    measure = _text(required=True, data_key="整改措施")
    deadline = _DeadlineCell(required=True, data_key="完成时间")
    responsible = fields.String(load_default=None, allow_none=True, validate=NAME,
                                data_key="责任人")
    category = fields.String(load_default=None, allow_none=True, validate=NAME, data_key="类别")
    public = _PublicCell(load_default=False, allow_none=True, data_key="公示")


class ImportArgs(Schema):
    atomic = fields.Boolean(load_default=False, metadata={
        "description": "true: import every row or none (nothing is written if a row is bad)"})


class ImportRowResult(Schema):
    row = fields.Integer(required=True, metadata={"description": "spreadsheet row; header = 1"})
    status = fields.String(required=True, metadata={"description": "created, invalid or skipped"})
    id = fields.String(allow_none=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
    warnings = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), metadata={
        "description": "by column: what was accepted as written but not found in the division "
                       "codes (a township or village unknown under the county)"})


class ImportReportSchema(Schema):
    atomic = fields.Boolean(required=True)
    rows = fields.Integer(required=True)
    created = fields.Integer(required=True)
    invalid = fields.Integer(required=True)
    results = fields.List(fields.Nested(ImportRowResult), required=True)


class TransitionSchema(Schema):
    to = fields.String(required=True, validate=validate.OneOf(STATUSES))
    reason = fields.String(load_default=None, allow_none=True, validate=TEXT)
    evidence = fields.List(fields.String(validate=TEXT), load_default=list,
                           validate=validate.Length(max=50),
                           metadata={"description": "evidence of the rectification (links, "
                                                    "file references); required to ask for "
                                                    "verification"})


class ItemListArgs(PageArgs):
    county = fields.String(validate=_known_county)
    township = fields.String(validate=NAME)
    village = fields.String(validate=NAME)
    status = fields.String(validate=validate.OneOf(STATUSES))
    overdue = fields.Boolean()
    category = fields.String(validate=NAME)
    q = fields.String(validate=validate.Length(min=1, max=200),
                      metadata={"description": "text in problem, measure or village"})
    deadline_before = fields.Date()
    updated_since = fields.AwareDateTime()


class HistoryEntrySchema(Schema):
    at = fields.AwareDateTime(required=True)
    actor = fields.String(required=True)
    from_ = fields.String(data_key="from", attribute="from", allow_none=True, required=True)
    to = fields.String(required=True)
    reason = fields.String(allow_none=True)
    cause = fields.String(required=True, metadata={
        "description": "created, imported, started, submitted, verified, rejected, restarted, "
                       "inspection.check_failed, inspection.check_failed.stale, "
                       "inspection.check_passed, inspection.problem_found, overdue"})
    inspection_id = fields.String()
    findings = fields.String(allow_none=True)
    evidence = fields.List(fields.String())
    observed_at = fields.AwareDateTime()


class ItemSchema(Schema):
    id = fields.String(required=True)
    county = fields.String(required=True)
    county_name = fields.String(required=True)
    township = fields.String(required=True)
    village = fields.String(required=True)
    village_code = fields.String(allow_none=True, metadata={
        "description": "the village's 12-digit division code where its name matched the "
                       "division codes under the county (GET /v1/divisions); null otherwise"})
    problem = fields.String(required=True)
    measure = fields.String(required=True)
    deadline = fields.Date(required=True)
    responsible = fields.String(allow_none=True)
    category = fields.String(allow_none=True)
    public = fields.Boolean(required=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    overdue = fields.Boolean(required=True)
    overdue_count = fields.Integer(required=True)
    reopen_count = fields.Integer(required=True)
    version = fields.Integer(required=True)
    created_at = fields.AwareDateTime(required=True)
    updated_at = fields.AwareDateTime(required=True)
    closed_at = fields.AwareDateTime(allow_none=True, metadata={
        "description": "when the item was last crossed off; kept after a reopening"})
    inspection_id = fields.String(allow_none=True)


class ItemDetailSchema(ItemSchema):
    history = fields.List(fields.Nested(HistoryEntrySchema), required=True)


class LedgerArgs(Schema):
    county = fields.String(validate=_known_county, metadata={"description": "one county's row"})
    city = fields.String(validate=_known_city, metadata={
        "description": "the rows of one city's counties (a province region)"})


class LedgerRowSchema(Schema):
    county = fields.String(required=True)
    county_name = fields.String(required=True)
    city = fields.String(required=True)
    city_name = fields.String(required=True)
    total = fields.Integer(required=True)
    by_status = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    overdue = fields.Integer(required=True)
    reopened = fields.Integer(required=True, metadata={
        "description": "items reopened by a failed inspection at least once"})
    reopenings = fields.Integer(required=True, metadata={"description": "reopenings in all"})
    closure_rate = fields.Float(allow_none=True, required=True)
    median_days_to_close = fields.Float(allow_none=True, required=True)


class CityLedgerRowSchema(LedgerRowSchema):
    """A city's counties summed; the median days to close is of all their closed items."""

    class Meta:
        exclude = ("county", "county_name")

    counties = fields.Integer(required=True, metadata={"description": "how many counties"})


class LedgerSchema(Schema):
    as_of = fields.Date(required=True)
    counties = fields.List(fields.Nested(LedgerRowSchema), required=True)
    cities = fields.List(fields.Nested(CityLedgerRowSchema), required=True, metadata={
        "description": "each city's row, its counties summed (the cities read; none for one "
                       "county)"})


def _calendar_year(quarter: str) -> None:
    # Year 0 and the quarter after 9999Q4 are not dates: they would end in a 500.
    if quarter[:4].isdigit() and not 1 <= int(quarter[:4]) <= 9998:
        raise ValidationError("The year must be between 0001 and 9998.")


class RankingArgs(Schema):
    quarter = fields.String(validate=[validate.Regexp(r"^\d{4}Q[1-4]$",
                                                      error="A quarter is written like 2026Q4."),
                                      _calendar_year],
                            metadata={"description": "defaults to the current quarter"})


class _RankedFiguresSchema(Schema):
    """What a ranked row of counties or of cities carries."""
    city = fields.String(required=True)
    city_name = fields.String(required=True)
    score = fields.Float(allow_none=True, required=True)
    items = fields.Integer(required=True)
    closed = fields.Integer(required=True)
    overdue = fields.Integer(required=True)
    reopened = fields.Integer(required=True)


class RankingRowSchema(_RankedFiguresSchema):
    rank = fields.Integer(allow_none=True, required=True, metadata={
        "description": "the county's rank among the counties of its city"})
    county = fields.String(required=True)
    county_name = fields.String(required=True)


class CityRankingRowSchema(_RankedFiguresSchema):
    rank = fields.Integer(allow_none=True, required=True, metadata={
        "description": "the city's rank among the cities of the province"})


class RankingSchema(Schema):
    quarter = fields.String(required=True)
    formula = fields.String(required=True)
    counties = fields.List(fields.Nested(RankingRowSchema), required=True, metadata={
        "description": "by city, then by rank within the city"})
    cities = fields.List(fields.Nested(CityRankingRowSchema), required=True, metadata={
        "description": "the cities ranked on all their counties' items (one in a city region)"})


class DivisionArgs(PageArgs):
    parent = fields.String(validate=validate.Regexp(r"^\d{6}(\d{3})?$", error=(
        "A parent is a six-digit province, city or county code, or a nine-digit township "
        "code.")), metadata={"description": "list this division's children; without it, the "
                                            "region itself and its top level"})


class DivisionSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    level = fields.String(required=True, validate=validate.OneOf(divisions.LEVELS))
    parent = fields.String(allow_none=True, required=True)
