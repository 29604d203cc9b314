"""The local stack's FerretDB finds by index (deploy/local/postgres/gin-twins.sql): each index a
service creates gets a GIN twin in PostgreSQL on its first field, and a find by `_id` or by that
field walks the twin instead of reading the whole collection.

Runs where the stack's PostgreSQL is known (`POSTGRES_URL`, set by `make test`)."""

from __future__ import annotations

import os
import subprocess

import pytest

from shared import mongo
from tests.support import eventually

POSTGRES_URL = os.environ.get("POSTGRES_URL")

pytestmark = pytest.mark.skipif(not POSTGRES_URL,
                                reason="POSTGRES_URL is not set (make test sets it)")


def sql(query: str) -> list[list[str]]:
    done = subprocess.run(["psql", "-X", "-q", "-tA", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                           POSTGRES_URL, "-c", query],
                          capture_output=True, text=True, timeout=60, check=True)
    return [line.split("\t") for line in done.stdout.splitlines() if line]


def twins(schema: str) -> dict[str, tuple[str, int]]:
    """The GIN twins in the schema of a database: field → (index name, scans so far)."""
    rows = sql(f"""
        SELECT substring(pg_get_indexdef(s.indexrelid) FROM '_jsonb -> ''([^'']+)''::text'),
               s.indexrelname, s.idx_scan
        FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid
        WHERE s.schemaname = '{schema}' AND s.relname LIKE 'items%'
          AND pg_get_indexdef(s.indexrelid) LIKE '%USING gin%'""")
    return {field: (name, int(scans)) for field, name, scans in rows}


def test_a_find_by_id_or_by_an_indexed_field_walks_a_gin_twin(settings):
    db = mongo.database(settings, "twins")
    db.items.create_index([("county", 1), ("status", 1)])
    db.items.insert_many([{"_id": f"item-{n}", "county": f"3306{n % 9:02d}", "status": "open"}
                          for n in range(500)])
    schema = db.name
    before = twins(schema)
    assert set(before) == {"_id", "county"}, before

    assert db.items.find_one({"_id": "item-7"})["county"] == "330607"
    assert len(list(db.items.find({"county": "330603"}))) == 56

    def scanned() -> dict:
        now = twins(schema)
        assert all(now[field][1] > before[field][1] for field in ("_id", "county")), now
        return now

    eventually(scanned, timeout=15, interval=0.5,
               message="PostgreSQL never used the twins for FerretDB's finds")
