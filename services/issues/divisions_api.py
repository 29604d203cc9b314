"""GET /v1/divisions: the region's divisions from the national codes, for pickers in county
systems and the web pages (shared/divisions.py reads them; docs/region.md)."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from services.issues.schemas import DivisionArgs, DivisionSchema
from shared import divisions
from shared.auth import ROLES, Caller, require
from shared.errors import NotFound
from shared.pagination import decode_cursor, encode_cursor, page_schema

blp = Blueprint("divisions", __name__, url_prefix="/v1/divisions",
                description="The region's divisions: cities, counties, townships, villages")
DivisionPage = page_schema(DivisionSchema, "DivisionPage")


@blp.route("")
class Divisions(MethodView):
    @require(*ROLES)
    @blp.arguments(DivisionArgs, location="query", unknown=RAISE)
    @blp.response(200, DivisionPage)
    def get(self, args: dict, caller: Caller):
        """The children of ``parent`` (code, name, level, parent) in code order; without it, the
        region itself and its top level (a province's cities, a city's counties). Any signed-in
        caller: the codes are public."""
        region = divisions.current()
        parent = args.get("parent")
        if parent is None:
            listed = region.top()
        elif region.get(parent) is None:
            raise NotFound(f"No division {parent} in {region.name} {region.code}.")
        else:
            listed = region.children(parent)
        after = decode_cursor(args["cursor"], lambda position: str(position["after"]))
        if after is not None:
            listed = [d for d in listed if d.code > after]
        page = listed[:args["limit"]]
        more = len(listed) > len(page)
        return {"items": [d.as_dict() for d in page],
                "next_cursor": encode_cursor({"after": page[-1].code}) if more else None}
