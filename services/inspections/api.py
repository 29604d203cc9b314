"""HTTP entry points: parse, call a handler, shape the answer. Rules live in the domain."""

from __future__ import annotations

import uuid
from dataclasses import asdict

from flask import request, url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from services.inspections import handlers
from services.inspections.domain.model import Check, NewProblem, TeamMember
from services.inspections.handlers import InspectionView, PlanInspection, SampleRequest
from services.inspections.repository import MongoInspections, MongoItemCopy
from services.inspections.schemas import (
    CancelSchema,
    DrawArgs,
    DrawSchema,
    InspectionListArgs,
    InspectionPageSchema,
    InspectionSchema,
    PlanSchema,
    ResultsSchema,
)
from shared import divisions, evidence, idempotency
from shared.auth import Caller, require
from shared.clock import now_ms
from shared.errors import Unprocessable
from shared.pagination import decode_cursor, encode_cursor, time_and_id
from shared.web import wiring

ANYONE = ("city_admin", "county_admin", "inspector", "subscriber")

blp = Blueprint("inspections", __name__, url_prefix="/v1/inspections",
                description="Unannounced, cross-county inspections and their spot checks.")


def _database():
    return wiring().db


def _repositories() -> tuple[MongoInspections, MongoItemCopy]:
    return wiring().inspections, wiring().items


def _sample_request(sample: dict) -> SampleRequest:
    return SampleRequest(strategy=sample["strategy"], size=sample["size"],
                         status=tuple(sample["status"]) if sample["status"] else None,
                         seed=sample["seed"])


def _present(view: InspectionView, *, detail: bool = True) -> dict:
    """The answer for one inspection; a list row leaves out the sampled items' details."""
    inspection = view.inspection
    shown = {
        **{k: v for k, v in vars(inspection).items()
           if k not in ("events", "filing", "fingerprint", "item_ids")},
        "target_county_name": divisions.current().county_name(inspection.target_county),
        "team": [asdict(m) for m in inspection.team],
        "sample": asdict(inspection.sample) if inspection.sample else None,
        "item_count": len(inspection.item_ids),
        "checks": [asdict(c) for c in inspection.checks],
        "new_problems": [asdict(p) for p in inspection.new_problems],
    }
    if view.items is not None:
        shown["item_ids"] = inspection.item_ids
        if detail:
            shown["sampled_items"] = [asdict(i) for i in view.items]
    return shown


@blp.route("")
class Inspections(MethodView):
    @require(*ANYONE)
    @blp.arguments(InspectionListArgs, location="query")
    @blp.response(200, InspectionPageSchema)
    def get(self, args: dict, caller: Caller):
        """Inspections the caller may see (rules U and X), newest planned first."""
        inspections, _ = _repositories()
        after = decode_cursor(args["cursor"], time_and_id)
        page, next_after = handlers.list_inspections(
            inspections, caller, status=args["status"], target_county=args["target_county"],
            after=after, limit=args["limit"])
        rows = [_present(InspectionView(i, [] if i.shows_items_to(caller) else None),
                         detail=False) for i in page]
        cursor = (encode_cursor({"at": next_after[0].isoformat(), "id": next_after[1]})
                  if next_after else None)
        return {"items": rows, "next_cursor": cursor}

    @require("city_admin")
    @idempotency.idempotent(_database)
    @blp.arguments(PlanSchema)
    @blp.doc(parameters=[idempotency.PARAMETER])
    @blp.response(201, InspectionSchema)
    def post(self, body: dict, caller: Caller):
        """Plan an inspection (city only). Honours Idempotency-Key."""
        inspections, items = _repositories()
        key = idempotency.key()
        inspection_id = (idempotency.derived_id("inspection", caller.sub, key) if key
                         else str(uuid.uuid4()))
        sample = body["sample"]
        command = PlanInspection(
            target_county=body["target_county"], kind=body["kind"],
            team=[TeamMember(**m) for m in body["team"]],
            window_start=body["window_start"], window_end=body["window_end"],
            item_ids=body["item_ids"],
            sample=_sample_request(sample) if sample else None)
        view = handlers.plan(inspections, items, command, inspection_id=inspection_id,
                             planned_by=caller, now=now_ms(),
                             fingerprint=idempotency.fingerprint(request.get_json()))
        location = url_for("inspections.InspectionResource", inspection_id=inspection_id)
        return _present(view), 201, {"Location": location}


@blp.route("/draw")
class SampleDraw(MethodView):
    @require("city_admin")
    @blp.arguments(DrawArgs, location="query")
    @blp.response(200, DrawSchema)
    def get(self, args: dict, caller: Caller):
        """What a sample would draw now from this service's copy of the items (city only;
        nothing is kept), to look at before planning: plan with the answered seed to draw the
        same while the copy stays as it is."""
        _, items = _repositories()
        drawn = handlers.draw(items, args["target_county"], _sample_request(args), by=caller,
                              now=now_ms())
        return {"sample": asdict(drawn.sample), "population": drawn.population,
                "items": [asdict(i) for i in drawn.items]}


@blp.route("/<inspection_id>")
class InspectionResource(MethodView):
    @require(*ANYONE)
    @blp.response(200, InspectionSchema)
    def get(self, inspection_id: str, caller: Caller):
        """One inspection; 404 for one the caller may not see, exactly as for none (rule U)."""
        return _present(handlers.get(*_repositories(), inspection_id, caller))


@blp.route("/<inspection_id>/start")
class Start(MethodView):
    @require("inspector")
    @blp.response(200, InspectionSchema)
    def post(self, inspection_id: str, caller: Caller):
        """The team is on site: planned → in_progress; the county learns of it now."""
        return _present(handlers.start(*_repositories(), inspection_id, caller, now_ms()))


@blp.route("/<inspection_id>/results")
class Results(MethodView):
    @require("inspector")
    @idempotency.idempotent(_database)
    @blp.arguments(ResultsSchema)
    @blp.doc(parameters=[idempotency.PARAMETER])
    @blp.response(200, InspectionSchema)
    def post(self, body: dict, inspection_id: str, caller: Caller):
        """File the results once; completes the inspection. Honours Idempotency-Key: the same
        key and body answer the first filing again; anything else after it is 409."""
        unknown = {str(i): {"evidence": refused} for i, c in enumerate(body["checks"])
                   if (refused := _evidence().check_references(
                       evidence.inspection_owner(inspection_id), c["evidence"]))}
        if unknown:
            first = next(iter(next(iter(unknown.values()))["evidence"].values()))[0]
            raise Unprocessable(first, errors={"checks": unknown})
        checks = [Check(item_id=c["item_id"], outcome=c["outcome"],
                        observed_at=c["observed_at"], findings=c["findings"],
                        evidence=tuple(c["evidence"])) for c in body["checks"]]
        new_problems = [NewProblem(**p) for p in body["new_problems"]]
        return _present(handlers.file_results(
            *_repositories(), inspection_id, caller, checks, new_problems, now_ms(),
            key=idempotency.key(), fingerprint=idempotency.fingerprint(request.get_json())))


def _evidence() -> evidence.EvidenceStore:
    return evidence.EvidenceStore(_database())


@blp.route("/<inspection_id>/evidence")
class InspectionEvidence(MethodView):
    @require("inspector")
    @idempotency.idempotent(_database)
    @evidence.upload_endpoint(blp, idempotency.PARAMETER)
    def post(self, files: dict, inspection_id: str, caller: Caller):
        """A photo taken on site by the team, while the inspection is in progress; answers the
        id to put in a check's ``evidence``. docs/evidence.md says what is kept and served."""
        inspections, _ = _repositories()
        photo = evidence.uploaded(files)
        key = idempotency.key()
        evidence_id = (idempotency.derived_id("inspections.evidence", caller.sub, key) if key
                       else str(uuid.uuid4()))
        kept = handlers.add_evidence(inspections, _evidence(), inspection_id, caller, photo,
                                     evidence_id=evidence_id, now=now_ms())
        location = url_for("inspections.InspectionEvidenceById", inspection_id=inspection_id,
                           evidence_id=kept.id)
        return kept.shown_to(city=caller.is_city), {"Location": location}


@blp.route("/<inspection_id>/evidence/<evidence_id>")
class InspectionEvidenceById(MethodView):
    @require(*ANYONE)
    @blp.doc(responses={200: evidence.IMAGE_RESPONSE})
    def get(self, inspection_id: str, evidence_id: str, caller: Caller):
        """The photo as served, without EXIF, GPS or other metadata; for whoever may see the
        inspection (rule U: the county only once it has started)."""
        inspections, _ = _repositories()
        store = _evidence()
        return evidence.serve(store, handlers.evidence(inspections, store, inspection_id,
                                                       evidence_id, caller))


@blp.route("/<inspection_id>/evidence/<evidence_id>/metadata")
class InspectionEvidenceMetadata(MethodView):
    @require(*ANYONE)
    @blp.response(200, evidence.EvidenceSchema)
    def get(self, inspection_id: str, evidence_id: str, caller: Caller):
        """What was kept of the original; its GPS position for city admins only."""
        inspections, _ = _repositories()
        return handlers.evidence(inspections, _evidence(), inspection_id, evidence_id,
                                 caller).shown_to(city=caller.is_city)


@blp.route("/<inspection_id>/cancel")
class Cancel(MethodView):
    @require("city_admin")
    @blp.arguments(CancelSchema)
    @blp.response(200, InspectionSchema)
    def post(self, body: dict, inspection_id: str, caller: Caller):
        """Call off a planned or running inspection (city only). No event is published."""
        return _present(handlers.cancel(*_repositories(), inspection_id, caller, now_ms(),
                                        body["reason"]))
