"""Cursors are opaque and tamper-evident enough to refuse garbage; idempotency ids are stable."""

import pytest

from shared.errors import ApiError
from shared.idempotency import derived_id, fingerprint
from shared.pagination import decode_cursor, encode_cursor


def test_a_cursor_round_trips_its_position():
    position = {"id": "item-9", "created_at": "2026-11-23T09:00:00+00:00", "村": "张市村"}
    assert decode_cursor(encode_cursor(position)) == position


@pytest.mark.parametrize("cursor", ["%%%", "bm90IGpzb24", encode_cursor({"a": 1})[:-3] + "!!"])
def test_a_cursor_the_service_did_not_give_out_is_a_400(cursor):
    with pytest.raises(ApiError) as caught:
        decode_cursor(cursor)
    assert caught.value.status == 400 and "cursor" in caught.value.errors


def test_the_same_body_has_the_same_fingerprint_whatever_the_key_order():
    assert fingerprint({"a": 1, "b": "乡镇"}) == fingerprint({"b": "乡镇", "a": 1})
    assert fingerprint({"a": 1}) != fingerprint({"a": 2})


def test_derived_ids_depend_on_scope_caller_and_key():
    one = derived_id("items", "li", "k-1")
    assert one == derived_id("items", "li", "k-1")
    assert len({one, derived_id("items", "wang", "k-1"), derived_id("items", "li", "k-2"),
                derived_id("inspections", "li", "k-1")}) == 4
