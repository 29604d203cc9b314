"""The inspector's pages, made for a phone on site: my inspections, start on site, the sampled
items one at a time, pass or fail with findings and photos, problems found on site, submit.

Without JavaScript the work page is one form, filed here in one request. With it (static/
field.js), each check is kept on the phone (IndexedDB) as it is made and the filing waits there
until the network is back; photos are sent first, each under its own Idempotency-Key, then the
results under the filing's key, so that sending again never files twice.
"""

from __future__ import annotations

import uuid

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for

from services.web import client
from services.web.client import ServiceError
from services.web.signin import requires
from services.web.timing import now

blp = Blueprint("field", __name__, url_prefix="/field")
KEY = "Idempotency-Key"


@blp.get("")
@requires("inspector")
def mine(person, token):
    page = client.inspections(token).get("/v1/inspections", params={"limit": 100})
    return render_template("field/mine.html", inspections=page["items"])


@blp.get("/<inspection_id>")
@requires("inspector")
def inspection(inspection_id: str, person, token):
    found = client.inspections(token).get(f"/v1/inspections/{inspection_id}")
    return render_template("field/inspection.html", inspection=found,
                           filing_key=str(uuid.uuid4()), errors={})


@blp.post("/<inspection_id>/start")
@requires("inspector")
def start(inspection_id: str, person, token):
    try:
        client.inspections(token).post(f"/v1/inspections/{inspection_id}/start")
    except ServiceError as exc:
        if exc.status not in (409, 422):
            raise
        flash(f"无法开始：{exc.detail}", "error")
    return redirect(url_for("field.inspection", inspection_id=inspection_id))


@blp.post("/<inspection_id>/evidence")
@requires("inspector")
def evidence(inspection_id: str, person, token):
    """One photo, sent on to the inspections service; answers its evidence id."""
    photo = request.files.get("file")
    if photo is None:
        return jsonify(status=422, detail="没有照片。", errors={"file": ["请选择照片。"]}), 422
    return jsonify(_upload(token, inspection_id, photo, request.headers.get(KEY))), 201


def _upload(token: str, inspection_id: str, photo, key: str | None) -> dict:
    headers = {KEY: key} if key else {}
    return client.inspections(token).post(
        f"/v1/inspections/{inspection_id}/evidence", headers=headers,
        files={"file": (photo.filename or "photo", photo.stream, photo.mimetype)})


@blp.post("/<inspection_id>/results")
@requires("inspector")
def results(inspection_id: str, person, token):
    service = client.inspections(token)
    if request.is_json:
        key = request.headers.get(KEY)
        filed = service.post(f"/v1/inspections/{inspection_id}/results", json=request.json,
                             headers={KEY: key} if key else {})
        return jsonify(status=filed["status"], id=filed["id"])
    found = service.get(f"/v1/inspections/{inspection_id}")
    key = request.form.get("filing_key") or str(uuid.uuid4())
    try:
        body = _form_filing(token, found, key)
        service.post(f"/v1/inspections/{inspection_id}/results", json=body, headers={KEY: key})
    except ServiceError as exc:
        if exc.status not in (409, 422):
            raise
        return render_template("field/inspection.html", inspection=found, filing_key=key,
                               errors=exc.errors, failure=exc.detail), exc.status
    flash("检查结果已提交。", "info")
    return redirect(url_for("field.inspection", inspection_id=inspection_id))


def _form_filing(token: str, found: dict, key: str) -> dict:
    """The filing of the page's plain form (no script): photos uploaded first."""
    observed = now().isoformat()
    checks = []
    for item in found.get("sampled_items") or []:
        outcome = request.form.get(f"outcome-{item['id']}")
        if outcome not in ("pass", "fail"):
            continue
        photos = [p for p in request.files.getlist(f"photos-{item['id']}") if p.filename]
        evidence = [_upload(token, found["id"], p, f"{key}:{item['id']}:{n}")["id"]
                    for n, p in enumerate(photos)]
        check = {"item_id": item["id"], "outcome": outcome, "observed_at": observed,
                 "evidence": evidence}
        findings = request.form.get(f"findings-{item['id']}", "").strip()
        if findings:
            check["findings"] = findings
        checks.append(check)
    problem = {f: request.form.get(f"new-{f}", "").strip()
               for f in ("township", "village", "problem", "measure")}
    return {"checks": checks, "new_problems": [problem] if problem["problem"] else []}
