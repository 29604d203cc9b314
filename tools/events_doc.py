"""docs/events.md, written from the event catalog (shared/events.py) by ``make docs``:
``python -m tools.events_doc > docs/events.md``. A unit test keeps the two the same.
"""

from __future__ import annotations

import json
import sys

from marshmallow import Schema, fields

from shared.events import CATALOG, INSPECTIONS_TOPIC, ISSUES_TOPIC, SPECVERSION, ItemState

_SAMPLES = {
    "id": "6f1c2b9e-8d7a-4e0f-9c55-1b2a3c4d5e6f", "item_id": "6f1c2b9e-8d7a-4e0f-9c55-1b2a3c4d5e6f",
    "inspection_id": "0b7e5a1c-2d3f-4a6b-8c9d-0e1f2a3b4c5d", "county": "330602",
    "target_county": "330603", "township": "灵芝镇", "village": "张市村",
    "village_code": "330602009200",
    "problem": "个别党员大局意识不强、不配合支持\u201c无违建村\u201d创建工作",
    "measure": "每名党员写出《无违建承诺书》并向全村进行公示,党员带头拆除违章建筑",
    "responsible": "张某", "category": "软弱落后", "findings": "承诺书未上墙公示,违章建筑未拆除",
    "reason": "督查发现整改不到位", "kind": "spot_check", "outcome": "fail", "from": "closed",
    "to": "reopened", "status": "closed", "sub": "inspector-yuecheng-01", "name": "王某",
    "started_by": "inspector-yuecheng-01", "inspector": "inspector-yuecheng-01",
    "actor": "city-admin-01", "cause": "3e0c9a57-1f2b-4c8d-9e6a-7b5c4d3e2f10",
}


def _sample(name: str, field: fields.Field):
    if isinstance(field, fields.Nested):
        return _example(field.schema)
    if isinstance(field, fields.List):
        return [_sample(name.rstrip("s"), field.inner)]
    if isinstance(field, fields.AwareDateTime):
        return "2026-11-23T09:30:00+08:00"
    if isinstance(field, fields.Date):
        return "2027-06-30"
    if isinstance(field, fields.Boolean):
        return name == "public"
    if isinstance(field, fields.Integer):
        return {"version": 5, "reopen_count": 1, "checks": 12, "passed": 9, "failed": 3,
                "new_problems": 1}.get(name, 0)
    return _SAMPLES.get(name, "photo-0012.jpg" if name.startswith("evidence") else name)


def _example(schema: Schema) -> dict:
    return {f.data_key or n: _sample(f.data_key or n, f) for n, f in schema.fields.items()}


def _field_rows(schema: Schema, prefix: str = "") -> list[str]:
    rows = []
    for name, field in schema.fields.items():
        key = prefix + (field.data_key or name)
        kind = type(field).__name__
        if isinstance(field, fields.List):
            kind = f"List[{type(field.inner).__name__}]"
        rows.append(f"| `{key}` | {kind} | {'yes' if field.required else 'no'} |")
        if isinstance(field, fields.Nested) and key == "item":
            continue  # the item snapshot is described once, below
        if isinstance(field, fields.Nested):
            rows.extend(_field_rows(field.schema, key + "."))
    return rows


def catalog_markdown() -> str:
    lines = [
        "# Events",
        "",
        "Generated from the catalog in `shared/events.py` by `make docs`; do not edit by hand.",
        "",
        "Every record is a CloudEvents 1.0 event in structured JSON mode (header",
        "`content-type: application/cloudevents+json`): `specversion`, `id` (UUID), `source`,",
        "`type`, `subject`, `time` (RFC 3339), `datacontenttype`, `data`, and the extension",
        "attribute `county`; item events also carry `itemversion`, the item's version after the",
        "change, so that a receiver can drop what is stale or repeated. Delivery is at least once:",
        "every consumer is idempotent on `id`. Each topic has a `.dlq` twin holding records a",
        "consumer could not process, with headers `dlq-original-topic`, `dlq-original-partition`,",
        "`dlq-original-offset`, `dlq-consumer-group`, `dlq-exception` and `dlq-reason`.",
        "",
        "| type | topic | record key | when |",
        "| --- | --- | --- | --- |",
    ]
    for spec in CATALOG.values():
        lines.append(f"| `{spec.name}` | `{spec.topic}` | {spec.key_doc} | {spec.when} |")
    lines += ["", "## The item snapshot (`data.item` of every issue event)", "",
              "| field | type | required |", "| --- | --- | --- |", *_field_rows(ItemState())]
    for spec in CATALOG.values():
        schema = spec.schema()
        example = {
            "specversion": SPECVERSION, "id": "3e0c9a57-1f2b-4c8d-9e6a-7b5c4d3e2f10",
            "source": spec.source, "type": spec.name, "subject": _SAMPLES["item_id"]
            if spec.key_doc == "item id" else _SAMPLES["inspection_id"],
            "time": "2026-11-23T09:30:01+08:00", "datacontenttype": "application/json",
            "county": "330603" if spec.topic == INSPECTIONS_TOPIC else "330602",
        }
        if spec.topic == ISSUES_TOPIC:
            example["itemversion"] = 5
        example["data"] = _example(schema)
        lines += ["", f"## `{spec.name}`", "", f"On `{spec.topic}`, keyed by {spec.key_doc}: "
                  f"{spec.when}.", "", "| data field | type | required |", "| --- | --- | --- |",
                  *_field_rows(schema), "", "```json",
                  json.dumps(example, ensure_ascii=False, indent=2), "```"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(catalog_markdown())
