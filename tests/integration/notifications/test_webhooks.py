"""Webhooks end to end on the real broker and database: events published to the topics reach a
county system's receiver, signed, through the consumer and the dispatcher; retried, disabled by
410, replayed, and never lost across a dispatcher restart."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

from standardwebhooks.webhooks import Webhook

from tests.support import eventually
from tests.unit.notifications.events import inspection_planned, issue_created


def subscribe(caller, url, counties=("330602",), event_types=("*",)) -> dict:
    answer = caller.post("/v1/subscriptions", json={
        "url": url, "event_types": list(event_types), "counties": list(counties)})
    assert answer.status_code == 201, answer.json
    return answer.json


def attempts(caller, subscription_id) -> list[dict]:
    answer = caller.get(f"/v1/subscriptions/{subscription_id}/deliveries")
    assert answer.status_code == 200, answer.json
    return answer.json["items"]


def test_published_events_reach_the_county_receiver_signed(
        as_, receiver, publish, consumer, dispatcher):
    subscription = subscribe(as_["yuecheng"], receiver.url)
    mine, theirs = issue_created("330602"), issue_created("330603")
    publish(mine, theirs)
    eventually(lambda: receiver.ids() == [mine.id], message="the event never arrived")
    headers, body = receiver.requests[0]
    payload = Webhook(subscription["secret"]).verify(body, headers)
    assert payload == mine.raw
    assert headers["content-type"] == "application/json"
    assert int(headers["webhook-timestamp"]) >= int(mine.time.timestamp())
    [attempt] = eventually(lambda: attempts(as_["yuecheng"], subscription["id"]))
    assert (attempt["event_id"], attempt["status"], attempt["outcome"]) == (
        mine.id, 204, "success")


def test_rule_u_a_planned_inspection_reaches_the_city_but_never_the_county(
        as_, receiver, publish, consumer, dispatcher):
    subscribe(as_["yuecheng"], receiver.url)
    city = subscribe(as_["city"], receiver.url, counties=["330602"],
                     event_types=["inspection.planned"])
    planned, created = inspection_planned("330602"), issue_created("330602")
    publish(planned, created)
    eventually(lambda: sorted(receiver.ids()) == sorted([planned.id, created.id]))
    planned_requests = [b for h, b in receiver.requests if h["webhook-id"] == planned.id]
    assert len(planned_requests) == 1
    Webhook(city["secret"]).verify(planned_requests[0], dict(
        next(h for h, _ in receiver.requests if h["webhook-id"] == planned.id)))


def test_a_receiver_failing_twice_gets_the_event_on_the_third_attempt(
        as_, receiver, publish, consumer, dispatcher):
    receiver.script = [500, 503]
    subscription = subscribe(as_["yuecheng"], receiver.url)
    event = issue_created("330602")
    publish(event)
    eventually(lambda: len(receiver.requests) == 3, message="three attempts expected")
    log = eventually(lambda: (a := attempts(as_["yuecheng"], subscription["id"]))
                     and len(a) == 3 and a)
    assert [a["status"] for a in reversed(log)] == [500, 503, 204]
    assert [a["attempt"] for a in reversed(log)] == [1, 2, 3]
    assert log[-1]["next_attempt_at"] is not None and log[0]["next_attempt_at"] is None
    assert set(receiver.ids()) == {event.id}


def test_a_receiver_down_across_a_dispatcher_restart_still_gets_the_event(
        as_, receiver, publish, consumer, dispatcher):
    subscription = subscribe(as_["yuecheng"], receiver.url)
    receiver.stop()  # nothing listens on its port now: no answer at all
    event = issue_created("330602")
    publish(event)
    eventually(lambda: attempts(as_["yuecheng"], subscription["id"]),
               message="the first attempt was not made")
    dispatcher.stop()
    receiver.start()
    dispatcher.start()  # a new process: what is left to do is in the database, not in memory
    eventually(lambda: receiver.ids() == [event.id], timeout=30,
               message="the event was lost across the restart")
    log = eventually(lambda: (a := attempts(as_["yuecheng"], subscription["id"]))
                     and a[0]["outcome"] == "success" and a)
    assert log[-1]["outcome"] == "no_answer"


def test_410_gone_disables_the_subscription_until_its_owner_enables_it(
        as_, receiver, publish, consumer, dispatcher):
    receiver.script = [410]
    subscription = subscribe(as_["yuecheng"], receiver.url)
    publish(issue_created("330602"))
    shown = eventually(lambda: (s := as_["yuecheng"].get(
        f"/v1/subscriptions/{subscription['id']}").json)["status"] == "disabled" and s)
    assert shown["disabled_reason"] and shown["disabled_at"]
    assert len(receiver.requests) == 1  # a 410 is never retried
    enabled = as_["yuecheng"].post(f"/v1/subscriptions/{subscription['id']}/enable")
    assert enabled.status_code == 200 and enabled.json["status"] == "active"
    later = issue_created("330602")
    publish(later)
    eventually(lambda: later.id in receiver.ids())


def test_replay_delivers_the_events_since_a_time_again(
        as_, receiver, publish, consumer, dispatcher):
    subscription = subscribe(as_["yuecheng"], receiver.url)
    first, second = issue_created("330602"), issue_created("330602")
    publish(first, second)
    eventually(lambda: sorted(receiver.ids()) == sorted([first.id, second.id]))
    # A delivery still on its way is not sent again; the dispatcher records what it sent a
    # pass later, and the delivery log shows it once recorded, as an owner would check.
    eventually(lambda: len(attempts(as_["yuecheng"], subscription["id"])) == 2)
    since = (min(first.time, second.time) - timedelta(seconds=1)).isoformat()
    replayed = as_["yuecheng"].post(f"/v1/subscriptions/{subscription['id']}/replay",
                                    json={"since": since})
    assert replayed.status_code == 202
    assert replayed.json == {"replayed": 2, "continue_since": None}
    eventually(lambda: sorted(receiver.ids()) == sorted([first.id, second.id] * 2))
    for headers, body in receiver.requests:
        Webhook(subscription["secret"]).verify(body, headers)


def test_after_rotation_deliveries_carry_both_signatures(
        as_, receiver, publish, consumer, dispatcher):
    subscription = subscribe(as_["yuecheng"], receiver.url)
    new = as_["yuecheng"].post(f"/v1/subscriptions/{subscription['id']}/rotate-secret").json
    publish(issue_created("330602"))
    eventually(lambda: receiver.requests)
    headers, body = receiver.requests[0]
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(subscription["secret"]).verify(body, headers)
    Webhook(new["secret"]).verify(body, headers)


def test_one_items_events_arrive_in_the_order_published(
        as_, receiver, publish, consumer, dispatcher):
    receiver.script = [500]  # the first version fails once: the second must wait for it
    subscribe(as_["yuecheng"], receiver.url)
    versions = [issue_created("330602", item_id="item-7", version=v) for v in (1, 2, 3)]
    publish(*versions)
    eventually(lambda: len(receiver.requests) == 4)
    delivered = [int(h["webhook-id"] == v.id) and v.raw["itemversion"]
                 for h, _ in receiver.requests for v in versions if h["webhook-id"] == v.id]
    assert delivered == [1, 1, 2, 3]


def test_an_event_published_twice_is_delivered_once(as_, receiver, publish, consumer, dispatcher):
    subscribe(as_["yuecheng"], receiver.url)
    event = issue_created("330602", item_id="item-3", version=1)
    after = issue_created("330602", item_id="item-3", version=2)  # same item: same partition
    publish(event, event, after)
    eventually(lambda: after.id in receiver.ids())
    assert receiver.ids() == [event.id, after.id]


def test_the_sample_county_receiver_verifies_and_keeps_our_webhooks(
        as_, publish, consumer, dispatcher, tmp_path):
    from http.server import ThreadingHTTPServer

    from tools.county_receiver import Inbox, make_handler

    store = tmp_path / "inbox.jsonl"
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler([], Inbox(store)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
        subscription = subscribe(as_["yuecheng"], url)
        server.RequestHandlerClass = make_handler([subscription["secret"]], Inbox(store))
        event = issue_created("330602")
        publish(event)
        eventually(lambda: store.exists() and store.read_text())
        assert [json.loads(line)["id"] for line in store.read_text().splitlines()] == [event.id]
    finally:
        server.shutdown()
        server.server_close()
