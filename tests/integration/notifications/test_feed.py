"""The pull feed on the real broker and database: each event once, in order, resumable by
cursor while events keep arriving; rule U for county readers; long polling."""

from __future__ import annotations

import json
import threading

from tests.support import eventually
from tests.unit.notifications.events import inspection_planned, issue_created


def read_all(caller, cursor=None, **params) -> tuple[list[dict], str]:
    """Follow the feed from ``cursor`` until a page comes back empty."""
    events = []
    while True:
        page = caller.get("/v1/feed", query_string={
            **params, **({"after": cursor} if cursor else {})})
        assert page.status_code == 200, page.json
        cursor = page.json["next_cursor"]
        if not page.json["items"]:
            return events, cursor
        events += page.json["items"]


def test_following_the_feed_during_appends_gives_every_event_once(as_, publish, consumer):
    published = [issue_created("330602") for _ in range(60)]

    def producer():
        for start in range(0, len(published), 6):
            publish(*published[start:start + 6])

    appending = threading.Thread(target=producer)
    appending.start()
    seen: list[str] = []
    cursor = None

    def caught_up():
        nonlocal cursor
        page = as_["yuecheng"].get("/v1/feed", query_string={
            "limit": 7, **({"after": cursor} if cursor else {})}).json
        cursor = page["next_cursor"]
        seen.extend(e["id"] for e in page["items"])
        return len(seen) >= len(published)

    eventually(caught_up, timeout=60, message="the feed did not deliver every event")
    appending.join()
    more, _ = read_all(as_["yuecheng"], cursor)
    seen += [e["id"] for e in more]
    assert len(seen) == len(set(seen)), "an event was served twice"
    assert set(seen) == {e.id for e in published}, "an event was skipped"


def test_one_items_events_come_in_their_order(as_, publish, consumer):
    versions = [issue_created("330602", item_id="item-9", version=v) for v in range(1, 6)]
    publish(*versions)
    events = eventually(lambda: (got := read_all(as_["yuecheng"], limit=2)[0])
                        and len(got) == 5 and got)
    assert [e["itemversion"] for e in events] == [1, 2, 3, 4, 5]


def test_rule_u_a_county_feed_never_shows_inspection_planned_the_city_feed_does(
        as_, publish, consumer):
    planned, created = inspection_planned("330602"), issue_created("330602")
    publish(planned, created)
    city = eventually(lambda: (got := read_all(as_["city"])[0]) and len(got) == 2 and got)
    assert {e["id"] for e in city} == {planned.id, created.id}
    for reader in ("yuecheng", "yuecheng_admin"):
        county, _ = read_all(as_[reader])
        assert [e["id"] for e in county] == [created.id]
        asked, _ = read_all(as_[reader], types="inspection.planned")
        assert asked == []


def test_a_county_feed_holds_only_its_own_county(as_, publish, consumer):
    mine, theirs = issue_created("330602"), issue_created("330603")
    publish(mine, theirs)
    eventually(lambda: len(read_all(as_["city"])[0]) == 2)
    assert [e["id"] for e in read_all(as_["keqiao"])[0]] == [theirs.id]


def test_a_reader_resumes_from_its_cursor_and_gets_only_what_is_new(as_, publish, consumer):
    first = issue_created("330602")
    publish(first)
    before, cursor = eventually(lambda: (r := read_all(as_["yuecheng"])) and r[0] and r)
    second = issue_created("330602")
    publish(second)
    after = eventually(lambda: read_all(as_["yuecheng"], cursor)[0])
    assert [e["id"] for e in before] == [first.id]
    assert [e["id"] for e in after] == [second.id]


def test_types_filters_the_feed(as_, publish, consumer):
    publish(issue_created("330602"))
    eventually(lambda: read_all(as_["yuecheng"])[0])
    assert read_all(as_["yuecheng"], types="issue.reopened,issue.closed")[0] == []


def test_a_long_poll_answers_as_soon_as_an_event_comes(as_, publish, consumer):
    _, cursor = read_all(as_["yuecheng"])
    event = issue_created("330602")
    threading.Timer(1.0, publish, args=(event,)).start()
    page = as_["yuecheng"].get("/v1/feed", query_string={"after": cursor, "wait": 20})
    assert [e["id"] for e in page.json["items"]] == [event.id]


def test_a_bad_cursor_or_wait_is_a_4xx_problem(as_):
    assert as_["yuecheng"].get("/v1/feed", query_string={"after": "not-a-cursor"}
                               ).status_code == 400
    assert as_["yuecheng"].get("/v1/feed", query_string={"wait": 31}).status_code == 422
    assert as_["inspector"].get("/v1/feed").status_code == 403


def test_the_sample_feed_follower_resumes_from_its_cursor_file(
        app, as_, publish, consumer, tmp_path, capsys):
    from werkzeug.serving import make_server

    from tools.feed_follower import follow

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    service, cursor_file = f"http://127.0.0.1:{server.server_port}", tmp_path / "feed.cursor"
    token = as_["yuecheng"].token
    try:
        first = [issue_created("330602") for _ in range(3)]
        publish(*first)
        eventually(lambda: len(read_all(as_["yuecheng"])[0]) == 3)
        follow(service, token, cursor_file, types=None, wait=0, once=True)
        second = [issue_created("330602") for _ in range(2)]
        publish(*second)
        eventually(lambda: len(read_all(as_["yuecheng"])[0]) == 5)
        capsys.readouterr()
        follow(service, token, cursor_file, types=None, wait=0, once=True)
        printed = [json.loads(line)["id"] for line in capsys.readouterr().out.splitlines()]
    finally:
        server.shutdown()
    assert sorted(printed) == sorted(e.id for e in second)
