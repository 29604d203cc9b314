"""Public HTML pages, no login: the county board (上墙公示) and the city dashboard.

Server-rendered, with charts as inline SVG: nothing is loaded from elsewhere, so the pages work
on an office intranet and on a phone. The board shows public items only and never the
responsible person; the dashboard shows aggregate figures only.
"""

from __future__ import annotations

from flask import render_template
from flask.views import MethodView
from flask_smorest import Blueprint

from services.issues import repository
from services.issues.domain.model import STATUSES, local_date
from services.issues.domain.ranking import Quarter
from shared import divisions
from shared.clock import now
from shared.errors import NotFound
from shared.web import wiring

blp = Blueprint("pages", __name__, template_folder="templates",
                description="Public pages: the county board and the city dashboard (HTML)")
STATUS_LABELS = {"open": "待整改", "in_progress": "整改中", "pending_verification": "待核查",
                 "closed": "已销号", "reopened": "重新整改"}
STATUS_COLOURS = {"open": "#d9534f", "in_progress": "#f0ad4e", "pending_verification": "#5bc0de",
                  "closed": "#5cb85c", "reopened": "#8e44ad"}
HTML = {"content": {"text/html": {"schema": {"type": "string"}}}}


def _db():
    return wiring().db


@blp.route("/board/<string:county>")
class Board(MethodView):
    @blp.doc(security=[], responses={"200": {"description": "the board", **HTML},
                                     "404": {"description": "no such county"}})
    def get(self, county: str):
        """上墙公示: a county's public items with problem, measure, deadline and status."""
        region = divisions.current()
        if not region.is_county(county):
            raise NotFound(f"No county {county}.")
        items = repository.board(_db(), county)
        return render_template("board.html", county=county, county_name=region.county_name(county),
                               items=items, labels=STATUS_LABELS, today=local_date(now()))


@blp.route("/dashboard")
class Dashboard(MethodView):
    @blp.doc(security=[], responses={"200": {"description": "the dashboard", **HTML}})
    def get(self):
        """The city dashboard: ledger, ranking and charts of aggregate figures only."""
        today = local_date(now())
        quarter = Quarter.of(today)
        reports = repository.reports(_db(), today)
        ledger, cities, ranking = reports.ledger(), reports.cities(), reports.ranking(quarter)
        return render_template(
            "dashboard.html", today=today, quarter=quarter, ledger=ledger, cities=cities,
            ranking=ranking,
            statuses=STATUSES, labels=STATUS_LABELS, colours=STATUS_COLOURS,
            names=divisions.current().counties, region_name=divisions.current().name,
            status_bars=_stacked(ledger),
            overdue_bars=_bars([(r["county_name"], r["overdue"]) for r in ledger]),
            reopen_bars=_bars([(r["county_name"], round(100 * r["reopened"] / r["total"], 1)
                                if r["total"] else 0) for r in ledger]),
            score_bars=_bars([(divisions.current().county_name(f.county), max(f.score, 0))
                              for _, f in ranking if f.score is not None]))


def _bars(values: list[tuple[str, float]]) -> list[dict]:
    """Bar lengths as percentages of the largest value (an empty chart stays empty)."""
    top = max((v for _, v in values), default=0) or 1
    return [{"label": label, "value": value, "width": round(100 * value / top, 1)}
            for label, value in values]


def _stacked(ledger: list[dict]) -> list[dict]:
    """Per county, one segment per status, as percentages of the largest county's total."""
    top = max((row["total"] for row in ledger), default=0) or 1
    rows = []
    for row in ledger:
        offset, segments = 0.0, []
        for status in STATUSES:
            width = 100 * row["by_status"][status] / top
            segments.append({"status": status, "x": round(offset, 2), "width": round(width, 2),
                             "count": row["by_status"][status]})
            offset += width
        rows.append({"label": row["county_name"], "total": row["total"], "segments": segments})
    return rows
