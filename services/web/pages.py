"""What every page shares: labels in Chinese, the signed-in person in each template, and the
evidence photos, fetched from the service that owns them with the viewer's token (so a photo
is shown only to those the service lets see it)."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Response

from services.web import client
from services.web.signin import requires, signed_in
from services.web.timing import beijing
from shared import divisions

blp = Blueprint("pages", __name__, template_folder="templates", static_folder="static",
                static_url_path="/assets")
STATUS_LABELS = {"open": "待整改", "in_progress": "整改中", "pending_verification": "待核查",
                 "closed": "已销号", "reopened": "重新整改"}
INSPECTION_LABELS = {"planned": "已计划", "in_progress": "检查中", "completed": "已完成",
                     "cancelled": "已取消"}
KIND_LABELS = {"spot_check": "抽查", "patrol": "巡查", "special": "专项检查"}
CAUSE_LABELS = {"created": "录入", "imported": "导入", "started": "开始整改",
                "submitted": "提交核查", "verified": "核查销号", "rejected": "核查退回",
                "restarted": "重新开始整改", "inspection.check_failed": "检查未通过",
                "inspection.check_failed.stale": "检查未通过（早于销号，不影响状态）",
                "inspection.check_passed": "检查通过", "inspection.problem_found": "现场发现问题",
                "overdue": "逾期"}
EVERYONE = ("city_admin", "county_admin", "inspector", "subscriber")


def install_filters(app) -> None:
    @app.context_processor
    def _shared():
        current = signed_in()
        return {"person": current[0] if current else None, "counties": divisions.current().counties,
                "status_labels": STATUS_LABELS, "inspection_labels": INSPECTION_LABELS,
                "kind_labels": KIND_LABELS, "cause_labels": CAUSE_LABELS}

    @app.template_filter("when")
    def _when(value: str | None) -> str:
        """An RFC 3339 time as Beijing wall-clock time, to the minute."""
        if not value:
            return ""
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        return beijing(moment).strftime("%Y-%m-%d %H:%M")


def _photo(answer) -> Response:
    return Response(answer.content, content_type=answer.headers.get("Content-Type",
                                                                    "application/octet-stream"),
                    headers={"Cache-Control": "private, max-age=3600"})


@blp.get("/photos/items/<item_id>/<evidence_id>")
@requires(*EVERYONE)
def item_photo(item_id: str, evidence_id: str, person, token):
    return _photo(client.issues(token).request(
        "GET", f"/v1/items/{item_id}/evidence/{evidence_id}"))


@blp.get("/photos/inspections/<inspection_id>/<evidence_id>")
@requires(*EVERYONE)
def inspection_photo(inspection_id: str, evidence_id: str, person, token):
    return _photo(client.inspections(token).request(
        "GET", f"/v1/inspections/{inspection_id}/evidence/{evidence_id}"))
