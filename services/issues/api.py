"""The JSON API of the issues service (docs/api.md, issues): parse, call a handler, answer."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime

from flask import request, url_for
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, ValidationError

from services.issues import handlers, importing
from services.issues.domain.cities import ledger_rows, place
from services.issues.domain.model import (
    Item,
    local_date,
)
from services.issues.domain.ranking import (
    CLOSED_WEIGHT,
    OVERDUE_PENALTY,
    REOPEN_PENALTY,
    Quarter,
    rank_by_city,
)
from services.issues.repository import (
    ItemFilter,
    MongoItemRepository,
    list_items,
    reports,
)
from services.issues.schemas import (
    ImportArgs,
    ImportReportSchema,
    ImportRowSchema,
    ItemCreateSchema,
    ItemDetailSchema,
    ItemListArgs,
    ItemSchema,
    LedgerArgs,
    LedgerSchema,
    RankingArgs,
    RankingSchema,
    TransitionSchema,
)
from shared import clock, divisions, evidence, idempotency
from shared.auth import Caller, require
from shared.errors import (
    ApiError,
    Forbidden,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    Unprocessable,
)
from shared.pagination import decode_cursor, encode_cursor, page_schema
from shared.web import wiring

items_blp = Blueprint("items", __name__, url_prefix="/v1/items",
                      description="Rectification items (问题清单) and their lifecycle")
reports_blp = Blueprint("reports", __name__, url_prefix="/v1",
                        description="The ledger (工作台账) and the quarterly ranking (排位)")
ItemPage = page_schema(ItemSchema, "ItemPage")
READERS = ("city_admin", "county_admin", "subscriber", "inspector")
WRITERS = ("city_admin", "county_admin")
FORMULA = (f"{CLOSED_WEIGHT}·closed/n − {OVERDUE_PENALTY}·overdue/n − {REOPEN_PENALTY}·reopened/n"
           " over the n items due in the quarter")


def db():
    return wiring().db


def repository() -> MongoItemRepository:
    return wiring().items


def today():
    return local_date(clock.now())


def item_scope(caller: Caller) -> str | None:
    """The county whose items the caller may read; None for the whole city.

    Inspectors read items through their inspections (inspections service, rules U and X),
    not by browsing a county's list here.
    """
    if caller.is_city:
        return None
    if caller.role == "inspector":
        raise Forbidden("Inspectors see the items of their inspections in the inspections "
                        "service, not county lists.")
    return caller.county


def item_body(item: Item, *, history: bool = False) -> dict:
    body = {**item.snapshot(today()), "county_name": divisions.current().county_name(item.county)}
    if history:
        body["history"] = item.history
    return body


def etag(item: Item) -> dict:
    return {"ETag": f'"{item.version}"'}


def expected_version() -> int:
    """The version named by If-Match (``"7"`` or ``W/"7"``), required for every update."""
    header = request.headers.get("If-Match")
    if not header:
        raise PreconditionRequired("Send If-Match with the item's ETag (from GET /v1/items/{id}) "
                                   "so that a change made meanwhile is not overwritten.")
    tag = header.strip().removeprefix("W/").strip('"')
    if not tag.isdigit():
        raise PreconditionFailed("If-Match does not name a version of this item.")
    return int(tag)


@items_blp.route("")
class Items(MethodView):
    @require(*READERS)
    @items_blp.arguments(ItemListArgs, location="query", unknown=RAISE)
    @items_blp.response(200, ItemPage)
    def get(self, args: dict, caller: Caller):
        """List items in the order they were created, filtered; a county admin or subscriber
        sees their own county only."""
        scope = item_scope(caller)
        if scope and args.get("county", scope) != scope:
            raise Forbidden("You may list the items of your own county only.")
        if caller.city:  # a city admin scoped to one city of the province
            if "county" in args and not caller.sees_county(args["county"]):
                raise Forbidden("You may list the items of your own city only.")
            args["counties"] = tuple(divisions.current().counties_of(caller.city))
        limit, after = args.pop("limit"), page_position(args.pop("cursor"))
        found, more = list_items(db(), ItemFilter(**{"county": scope, **args}), today(),
                                 limit=limit, after=after)
        next_cursor = encode_cursor({"c": more[0].isoformat(), "i": more[1]}) if more else None
        return {"items": [item_body(i) for i in found], "next_cursor": next_cursor}

    @require(*WRITERS)
    @idempotency.idempotent(db)
    @items_blp.arguments(ItemCreateSchema)
    @items_blp.response(201, ItemDetailSchema, headers={"ETag": {"schema": {"type": "string"}}})
    @items_blp.alt_response(409, description="Idempotency-Key reused with another body")
    @items_blp.doc(parameters=[{"in": "header", "name": "Idempotency-Key", "required": False,
                                "schema": {"type": "string"}}])
    def post(self, body: dict, caller: Caller):
        """Create an item (city, or a county admin in their own county)."""
        key = idempotency.key()
        item_id = idempotency.derived_id("issues.items", caller.sub, key) if key else None
        item, _ = handlers.create_item(
            repository(), new_item(body), caller, item_id=item_id,
            fingerprint=idempotency.fingerprint(body) if key else None)
        headers = {**etag(item), "Location": url_for("items.ItemById", item_id=item.id)}
        return item_body(item, history=True), headers


def page_position(cursor: str | None) -> tuple[datetime, str] | None:
    """The (created_at, id) of the last item served, from a cursor this service gave out."""
    return decode_cursor(cursor, lambda p: (datetime.fromisoformat(p["c"]), str(p["i"])))


@items_blp.route("/import")
class ItemImport(MethodView):
    @require(*WRITERS)
    @idempotency.idempotent(db)
    @items_blp.arguments(ImportArgs, location="query", unknown=RAISE)
    @items_blp.response(200, ImportReportSchema)
    @items_blp.alt_response(422, description="unreadable file, or a bad row with atomic=true")
    @items_blp.doc(
        requestBody={"required": True, "content": {
            "multipart/form-data": {"schema": {"type": "object", "properties": {
                "file": {"type": "string", "format": "binary"}}}},
            "text/csv": {"schema": {"type": "string"}},
            importing.XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}}}},
        parameters=[{"in": "header", "name": "Idempotency-Key", "required": False,
                     "schema": {"type": "string"}}])
    def post(self, args: dict, caller: Caller):
        """Import a county problem list (CSV or XLSX, columns 县区代码 … 公示), row by row."""
        content = uploaded_file()
        try:
            table = importing.read_table(content, xlsx=importing.looks_like_xlsx(content))
        except importing.UnreadableFile as exc:
            raise Unprocessable(str(exc), errors={"file": [str(exc)]}) from exc
        if not table:
            raise Unprocessable("The file has a header but no item rows.",
                                errors={"file": ["No item rows."]})
        rows, refused, warnings = read_rows(table)
        key = idempotency.key()
        atomic = args["atomic"]

        def id_for_row(row: int) -> str:
            if key is None:
                return str(uuid.uuid4())
            return idempotency.derived_id("issues.import", caller.sub, f"{key}\n{row}")

        fingerprint = idempotency.fingerprint(
            {"file": hashlib.sha256(content).hexdigest(), "atomic": atomic}) if key else None
        outcome = handlers.import_items(
            repository(), rows, caller, refused=refused, atomic=atomic,
            id_for_row=id_for_row, fingerprint=fingerprint,
            import_id=idempotency.derived_id("issues.import", caller.sub, key)
            if key else None)
        refused = {row: column_names(errors) for row, errors in outcome.refused.items()}
        if not outcome.written:
            raise Unprocessable(
                f"{len(refused)} of {len(table)} rows are not valid; with atomic=true nothing "
                "was imported.",
                errors={f"row {row}": [f"{field}: {m}" for field, ms in errors.items() for m in ms]
                        for row, errors in sorted(refused.items())})
        results = sorted(
            [{"row": row, "status": "created", "id": item_id,
              **({"warnings": column_names(warnings[row])} if row in warnings else {})}
             for row, item_id in outcome.created.items()]
            + [{"row": row, "status": "invalid", "id": None, "errors": errors}
               for row, errors in refused.items()], key=lambda r: r["row"])
        return {"atomic": atomic, "rows": len(table), "created": len(outcome.created),
                "invalid": len(refused), "results": results}


def uploaded_file() -> bytes:
    """The list from a multipart field ``file`` or from the raw body (CSV or XLSX type)."""
    upload = request.files.get("file")
    if upload is not None:
        return upload.read()
    if request.mimetype in (*importing.CSV_TYPES, importing.XLSX_TYPE):
        return request.get_data()
    raise ApiError("Send the list as the multipart field 'file', or as a text/csv or XLSX body.",
                   status=415, title="Unsupported Media Type", errors={"file": ["Missing."]})


def new_item(fields: dict, warnings: dict | None = None) -> handlers.NewItem:
    """The item to create, with its village's code where the names matched the division codes
    (what did not match goes into ``warnings`` by field, and is kept as written)."""
    village_code, unknown = place(divisions.current(), fields["county"], fields["township"],
                                  fields["village"])
    if warnings is not None:
        warnings.update(unknown)
    return handlers.NewItem(**fields, village_code=village_code)


def read_rows(table: list[tuple[int, dict]]):
    """The rows read well, those refused (row: {field: messages}) and the warnings of rows
    taken as written (row: {field: messages})."""
    schema = ImportRowSchema()
    rows, refused, warnings = [], {}, {}
    for number, record in table:
        try:
            loaded = schema.load({k: v for k, v in record.items() if v is not None})
        except ValidationError as exc:
            refused[number] = exc.messages
            continue
        unknown: dict = {}
        rows.append((number, new_item(loaded, unknown)))
        if unknown:
            warnings[number] = unknown
    return rows, refused, warnings


_COLUMN = {name: f.data_key for name, f in ImportRowSchema().fields.items()}


def column_names(errors: dict) -> dict:
    """Refusals by the domain name fields as the code does; a person reads column names."""
    return {_COLUMN.get(field, field): messages for field, messages in errors.items()}


@items_blp.route("/<string:item_id>")
class ItemById(MethodView):
    @require(*READERS)
    @items_blp.response(200, ItemDetailSchema, headers={"ETag": {"schema": {"type": "string"}}})
    def get(self, item_id: str, caller: Caller):
        """One item with its full history; the ETag names its version."""
        item = repository().get(item_id)
        item_scope(caller)  # inspectors: 403
        if item is None or not caller.sees_county(item.county):
            raise NotFound(f"No item {item_id}.")
        return item_body(item, history=True), etag(item)


@items_blp.route("/<string:item_id>/transitions")
class ItemTransitions(MethodView):
    @require(*WRITERS)
    @items_blp.arguments(TransitionSchema)
    @items_blp.response(200, ItemDetailSchema, headers={"ETag": {"schema": {"type": "string"}}})
    @items_blp.alt_response(409, description="the lifecycle has no such move")
    @items_blp.alt_response(412, description="If-Match names an older version")
    @items_blp.alt_response(428, description="If-Match missing")
    @items_blp.doc(parameters=[{"in": "header", "name": "If-Match", "required": True,
                                "schema": {"type": "string"}}])
    def post(self, body: dict, item_id: str, caller: Caller):
        """Move the item along its lifecycle (docs/issues.md has who may do what). An
        ``evidence`` entry that is a photo id must name a photo uploaded to this item."""
        unknown = evidence.EvidenceStore(db()).check_references(evidence.item_owner(item_id),
                                                                body["evidence"])
        if unknown:
            raise Unprocessable(next(iter(unknown.values()))[0], errors={"evidence": unknown})
        try:
            item = handlers.transition_item(repository(), item_id, body["to"], caller,
                                            expected_version=expected_version(),
                                            reason=body["reason"], evidence=body["evidence"])
        except handlers.StaleVersion as exc:
            raise PreconditionFailed(
                f"The item changed meanwhile ({exc}); read it again and retry.",
                headers={"ETag": f'"{exc.current}"'}) from exc
        return item_body(item, history=True), etag(item)


@items_blp.route("/<string:item_id>/evidence")
class ItemEvidence(MethodView):
    @require(*WRITERS)
    @idempotency.idempotent(db)
    @evidence.upload_endpoint(items_blp, idempotency.PARAMETER)
    def post(self, files: dict, item_id: str, caller: Caller):
        """Upload an evidence photo of the item (whoever may move it); answers the id to put in
        a transition's ``evidence``. docs/evidence.md says what is kept and what is served."""
        item = repository().get(item_id)
        if item is None or not caller.administers(item.county):
            raise NotFound(f"No item {item_id}.")
        photo = evidence.uploaded(files)
        key = idempotency.key()
        evidence_id = (idempotency.derived_id("issues.evidence", caller.sub, key) if key
                       else str(uuid.uuid4()))
        kept = evidence.EvidenceStore(db()).add(evidence_id, evidence.item_owner(item_id), photo,
                                                uploaded_by=caller.sub, now=clock.now_ms())
        location = url_for("items.ItemEvidenceById", item_id=item_id, evidence_id=kept.id)
        return kept.shown_to(city=caller.is_city), {"Location": location}


def visible_evidence(item_id: str, evidence_id: str, caller: Caller):
    """The item's photo, for whoever may read the item (as GET /v1/items/{id}); else 404."""
    item = repository().get(item_id)
    item_scope(caller)  # inspectors: 403
    store = evidence.EvidenceStore(db())
    found = None if item is None or not caller.sees_county(item.county) else store.of(
        evidence.item_owner(item_id), evidence_id)
    if found is None:
        raise NotFound(f"No photo {evidence_id} of item {item_id}.")
    return store, found


@items_blp.route("/<string:item_id>/evidence/<string:evidence_id>")
class ItemEvidenceById(MethodView):
    @require(*READERS)
    @items_blp.doc(responses={200: evidence.IMAGE_RESPONSE})
    def get(self, item_id: str, evidence_id: str, caller: Caller):
        """The photo as served: re-encoded without EXIF, GPS or other metadata."""
        return evidence.serve(*visible_evidence(item_id, evidence_id, caller))


@items_blp.route("/<string:item_id>/evidence/<string:evidence_id>/metadata")
class ItemEvidenceMetadata(MethodView):
    @require(*READERS)
    @items_blp.response(200, evidence.EvidenceSchema)
    def get(self, item_id: str, evidence_id: str, caller: Caller):
        """What was kept of the original; its GPS position for city admins only."""
        return visible_evidence(item_id, evidence_id, caller)[1].shown_to(
            city=caller.is_city)


@reports_blp.route("/ledger")
class Ledger(MethodView):
    @require(*READERS)
    @reports_blp.arguments(LedgerArgs, location="query", unknown=RAISE)
    @reports_blp.response(200, LedgerSchema)
    def get(self, args: dict, caller: Caller):
        """工作台账: per county total, by status, overdue, reopened, closure rate, median days
        to close, with its city, and per city its counties summed; for the region, one city
        (``city``) or one county (``county``, no city row). A county admin or subscriber sees
        their county, a city admin scoped to a city that city; the region's city admins and
        inspectors all (the same figures are on the public dashboard)."""
        own = caller.county if caller.role in ("county_admin", "subscriber") else None
        city = args.get("city") or caller.city
        if (own and args.get("county", own) != own) or (
                caller.city and (city != caller.city or not caller.sees_county(
                    args.get("county", caller.city)))):
            raise Forbidden("You may read the ledger of your own county or city only.")
        scope = own or args.get("county")
        kept = reports(db(), today(), scope)
        return {"as_of": today(),
                "counties": ledger_rows(kept.ledger(), divisions.current(), city),
                "cities": [] if scope else kept.cities(city)}


@reports_blp.route("/ranking")
class Ranking(MethodView):
    @require("city_admin")
    @reports_blp.arguments(RankingArgs, location="query", unknown=RAISE)
    @reports_blp.response(200, RankingSchema)
    def get(self, args: dict, caller: Caller):
        """Counties ranked for a quarter by the score in docs/ranking.md."""
        quarter = Quarter.parse(args["quarter"]) if "quarter" in args else Quarter.of(today())
        return ranking_body(quarter, caller)


def ranking_body(quarter: Quarter, caller: Caller) -> dict:
    """Counties ranked within their city, cities within the province; a city admin scoped to
    a city sees its own counties and every city's rank."""
    region = divisions.current()
    counties, cities = rank_by_city(
        [f for _, f in reports(db(), today()).ranking(quarter)], region.city_of)

    def row(position: int | None, f) -> dict:
        return {"rank": position, "score": f.score, "items": f.items, "closed": f.closed,
                "overdue": f.overdue, "reopened": f.reopened}

    return {"quarter": str(quarter), "formula": FORMULA,
            "counties": [{**row(p, f), "county": f.county,
                          "county_name": region.county_name(f.county),
                          "city": region.city_of(f.county),
                          "city_name": region.cities[region.city_of(f.county)]}
                         for p, f in counties if caller.sees_county(f.county)],
            "cities": [{**row(p, f), "city": f.county, "city_name": region.cities[f.county]}
                       for p, f in cities]}

