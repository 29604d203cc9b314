"""The county workbench: my county's items (reopened and overdue first), importing a list with
each bad row's errors shown against its row, and an item's page with its full history, where
the county starts the work and submits it for verification with evidence photos (and where the
city verifies or rejects it, with that evidence in view)."""

from __future__ import annotations

import hashlib
import re

from flask import Blueprint, flash, redirect, render_template, request, url_for

from services.web import client
from services.web.client import ServiceError
from services.web.signin import requires

blp = Blueprint("county", __name__)
FILTERS = ("status", "overdue", "township", "village", "category", "q", "deadline_before")
KEY = "Idempotency-Key"
# The moves a person may make from a status, by role: (target status, button, needs).
MOVES = {
    "county_admin": {"open": [("in_progress", "开始整改", None)],
                     "reopened": [("in_progress", "重新开始整改", None)],
                     "in_progress": [("pending_verification", "提交核查", "evidence")]},
    "city_admin": {"open": [("in_progress", "开始整改", None)],
                   "reopened": [("in_progress", "重新开始整改", None)],
                   "in_progress": [("pending_verification", "提交核查", "evidence")],
                   "pending_verification": [("closed", "核查通过，销号", None),
                                            ("in_progress", "退回重新整改", "reason")]},
}
ROW = re.compile(r"^row (\d+)$")


def list_params(args, **fixed) -> dict:
    params = {name: args[name] for name in FILTERS if args.get(name)}
    params.update(fixed)
    if args.get("cursor"):
        params["cursor"] = args["cursor"]
    return params


@blp.get("/county")
@requires("county_admin")
def workbench(person, token):
    issues = client.issues(token)
    params = list_params(request.args, county=person.county, limit=50)
    page = issues.get("/v1/items", params=params)
    first = {}
    if not any(request.args.get(name) for name in (*FILTERS, "cursor")):
        # What needs the county first: items a failed inspection reopened, then overdue ones.
        reopened = issues.get("/v1/items", params={"county": person.county,
                                                   "status": "reopened", "limit": 50})["items"]
        overdue = [i for i in issues.get("/v1/items", params={
            "county": person.county, "overdue": "true", "limit": 50})["items"]
            if i["status"] != "reopened"]
        first = {"reopened": reopened, "overdue": overdue}
    more = {k: v for k, v in request.args.items() if k != "cursor"}
    next_url = (url_for("county.workbench", **more, cursor=page["next_cursor"])
                if page["next_cursor"] else None)
    return render_template("county/workbench.html", page=page, first=first,
                           args=request.args, filters=params, next_url=next_url)


@blp.get("/county/import")
@requires("county_admin", "city_admin")
def import_page(person, token):
    return render_template("county/import.html", rows=[], report=None)


@blp.post("/county/import")
@requires("county_admin", "city_admin")
def import_list(person, token):
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return render_template("county/import.html", rows=[], report=None,
                               failure="请选择要导入的 Excel 或 CSV 文件。"), 422
    content = upload.read()
    # The same file sent twice (a double click, a retry) imports its rows once.
    key = "web-import-" + hashlib.sha256(content).hexdigest()
    try:
        report = client.issues(token).post(
            "/v1/items/import", params={"atomic": "true"}, headers={KEY: key},
            files={"file": (upload.filename, content, upload.mimetype)})
    except ServiceError as exc:
        if exc.status not in (409, 415, 422):
            raise
        return render_template("county/import.html", report=None, filename=upload.filename,
                               rows=bad_rows(exc.errors), failure=_import_failure(exc)), 422
    flash(f"已导入 {report['created']} 项问题（共 {report['rows']} 行）。", "info")
    return render_template("county/import.html", rows=[], report=report,
                           filename=upload.filename)


def _import_failure(exc: ServiceError) -> str:
    if exc.status == 422 and any(ROW.match(k) for k in exc.errors):
        return (f"有 {sum(1 for k in exc.errors if ROW.match(k))} 行需要改正，整份清单都没有导入。"
                "请按下表在表格中改正这些行，再重新导入整份清单。")
    if exc.status == 415:
        return "文件不是 Excel（.xlsx）或 CSV 文件。"
    return exc.detail


def bad_rows(errors: dict) -> list[dict]:
    """``{"row 3": ["完成时间: …"]}`` as rows with their column and message, in row order."""
    rows = []
    for key, messages in errors.items():
        match = ROW.match(key)
        if not match:
            rows.append({"row": None, "problems": [("文件", m) for m in messages]})
            continue
        problems = []
        for message in messages:
            column, _, text = message.partition(": ")
            problems.append((column, text) if text else ("", column))
        rows.append({"row": int(match.group(1)), "problems": problems})
    return sorted(rows, key=lambda r: (r["row"] is not None, r["row"] or 0))


@blp.get("/items/<item_id>")
@requires("county_admin", "city_admin")
def item(item_id: str, person, token):
    found = client.issues(token).get(f"/v1/items/{item_id}")
    return _item_page(found, person)


def _item_page(found: dict, person, *, failure: str | None = None, errors=None, status=200):
    moves = MOVES.get(person.role, {}).get(found["status"], [])
    # The evidence the city verifies against: that of the latest submission.
    submitted = next((h for h in reversed(found.get("history", []))
                      if h.get("cause") == "submitted"), None)
    return render_template("county/item.html", item=found, moves=moves, failure=failure,
                           errors=errors or {}, submitted=submitted), status


@blp.post("/items/<item_id>/transitions")
@requires("county_admin", "city_admin")
def transition(item_id: str, person, token):
    issues = client.issues(token)
    to = request.form.get("to", "")
    body = {"to": to}
    reason = request.form.get("reason", "").strip()
    if reason:
        body["reason"] = reason
    try:
        photos = [p for p in request.files.getlist("photos") if p.filename]
        if to == "pending_verification":
            # Each photo's key names the item, the version it is sent for and its place, so
            # that sending the form again uploads nothing twice.
            base = f"web-evidence-{item_id}-{request.form.get('version')}"
            body["evidence"] = [issues.post(
                f"/v1/items/{item_id}/evidence", headers={KEY: f"{base}-{n}"},
                files={"file": (p.filename, p.stream, p.mimetype)})["id"]
                for n, p in enumerate(photos)]
        issues.post(f"/v1/items/{item_id}/transitions", json=body,
                    headers={"If-Match": f'"{request.form.get("version", "")}"'})
    except ServiceError as exc:
        if exc.status not in (409, 412, 422, 428):
            raise
        failure = ("这项问题刚被他人更改过，请查看最新情况后再操作。" if exc.status == 412
                   else exc.detail)
        return _item_page(issues.get(f"/v1/items/{item_id}"), person, failure=failure,
                          errors=_field_words(exc.errors), status=exc.status)
    flash({"in_progress": "已更新为整改中。", "pending_verification": "已提交核查。",
           "closed": "已核查销号。"}.get(to, "已更新。"), "info")
    return redirect(url_for("county.item", item_id=item_id))


def _field_words(errors: dict) -> dict:
    words = {"evidence": "整改照片", "reason": "理由", "to": "目标状态", "file": "照片"}
    return {words.get(k, k): v for k, v in errors.items()}
