"""A province deployment (浙江省): a city admin scoped to 绍兴市 by the token's ``city`` claim
subscribes to, reads in the feed and manages what belongs to its own city, planned inspections
of its counties included, and nothing of another city (docs/notifications.md)."""

from __future__ import annotations

import dataclasses

import pytest

from shared.auth import mint
from tests.integration.notifications.test_feed import read_all
from tests.integration.notifications.test_webhooks import subscribe
from tests.support import Caller, eventually
from tests.unit.notifications.events import inspection_planned, issue_created

PROVINCE, SHAOXING, HANGZHOU = "330000", "330600", "330100"
YUECHENG, XIHU = "330602", "330106"  # a county of each city


@pytest.fixture
def notify_settings(notify_settings):
    return dataclasses.replace(notify_settings, region=PROVINCE)


@pytest.fixture
def by(app):
    client, secret = app.test_client(), app.config["SETTINGS"].jwt_secret
    return {
        "shaoxing": Caller(client, mint(secret, sub="sx-office", role="city_admin", city=SHAOXING)),
        "hangzhou": Caller(client, mint(secret, sub="hz-office", role="city_admin", city=HANGZHOU)),
        "yuecheng": Caller(client, mint(secret, sub="yc-system", role="subscriber",
                                        county=YUECHENG)),
        "xihu": Caller(client, mint(secret, sub="xh-system", role="subscriber", county=XIHU)),
    }


def test_a_city_scoped_admin_hears_its_citys_events_planned_inspections_included_and_no_other(
        by, receiver, publish, consumer, dispatcher):
    subscribe(by["shaoxing"], receiver.url, counties=["*"])
    planned, mine, theirs = (inspection_planned(YUECHENG), issue_created(YUECHENG),
                             issue_created(XIHU))
    publish(planned, mine, theirs)
    eventually(lambda: sorted(receiver.ids()) == sorted([planned.id, mine.id]))

    events, _ = eventually(lambda: (page := read_all(by["shaoxing"])) and len(page[0]) >= 2
                           and page)
    assert {e["id"] for e in events} == {planned.id, mine.id}
    theirs_seen, _ = eventually(lambda: (page := read_all(by["hangzhou"])) and page[0] and page)
    assert [e["id"] for e in theirs_seen] == [theirs.id]


def test_a_city_scoped_admin_may_not_subscribe_to_another_citys_county(by, receiver):
    answer = by["shaoxing"].post("/v1/subscriptions", json={
        "url": receiver.url, "event_types": ["*"], "counties": [YUECHENG, XIHU]})
    assert answer.status_code == 403
    assert XIHU in answer.json["detail"]
    assert by["shaoxing"].get("/v1/subscriptions").json["items"] == []


def test_a_city_scoped_admin_lists_and_manages_the_subscriptions_of_its_city_only(by, receiver):
    own = subscribe(by["shaoxing"], receiver.url, counties=[YUECHENG])
    county = subscribe(by["yuecheng"], receiver.url, counties=[YUECHENG])
    other = subscribe(by["xihu"], receiver.url, counties=[XIHU])

    listed = {s["id"] for s in by["shaoxing"].get("/v1/subscriptions").json["items"]}
    assert listed == {own["id"], county["id"]}
    assert by["shaoxing"].get(f"/v1/subscriptions/{county['id']}").status_code == 200
    assert by["shaoxing"].get(f"/v1/subscriptions/{other['id']}").status_code == 404
    assert by["hangzhou"].delete(f"/v1/subscriptions/{county['id']}").status_code == 404
    assert by["shaoxing"].delete(f"/v1/subscriptions/{county['id']}").status_code == 204
