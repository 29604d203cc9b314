"""The handlers on in-memory stores: subscribing, recording events, dispatching, the feed."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from services.notifications import delivering, feed, handlers, recording
from services.notifications.domain.circuit import Circuit
from services.notifications.domain.deliveries import (
    CANCELLED,
    DELIVERED,
    FAILED,
    IN_FLIGHT,
    PENDING,
    Delivery,
)
from services.notifications.domain.feed import FeedPosition
from services.notifications.domain.url_safety import AllowList
from shared import divisions
from shared.consumer import DUPLICATE, PROCESSED
from shared.domain import Caller, DomainError, NotPermitted, Unknown, WrongState
from tests.unit.notifications.events import inspection_planned, issue_created
from tests.unit.notifications.fakes import FakeEndpoint, FakeStores, public_destinations

CITY = Caller("city-1", "city_admin")
YUECHENG = Caller("yc-system", "subscriber", "330602")
KEQIAO = Caller("kq-system", "subscriber", "330603")
SCHEDULE = (0, 1, 1)
LEASE = timedelta(seconds=60)


class Clock:
    def __init__(self):
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def stores() -> FakeStores:
    return FakeStores()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def subscribe(stores, caller, *, event_types=("*",), counties=None, key=None,
              url="https://hooks.example.cn/in"):
    body = {"url": url, "event_types": list(event_types),
            "counties": counties or [caller.county or "*"]}
    subscription, _ = handlers.create_subscription(
        stores, caller, body, key=key, destinations=public_destinations(), now=datetime.now(UTC))
    return subscription


def record(stores, event, clock, offset=0, partition=0):
    [outcome] = recording.record_events(
        stores, [(event, ("supervision.issues.v1", partition, offset))], schedule=SCHEDULE,
        now=clock())
    return outcome


def dispatch(stores, clock, endpoint, *, holder="w1", per_subscription=4):
    """One dispatcher pass: claim what is due, attempt each; the attempts made."""
    claimed = delivering.claim_due(stores, now=clock(), limit=16, lease=LEASE, holder=holder,
                                 busy={}, per_subscription=per_subscription)
    return [delivering.attempt_delivery(stores, d, holder=holder, send=endpoint,
                                      destinations=public_destinations(), schedule=SCHEDULE,
                                      clock=clock) for d in claimed]


# --- subscribing --------------------------------------------------------------------------------

def test_a_retry_with_the_same_idempotency_key_and_body_answers_the_first_subscription(stores):
    first = subscribe(stores, YUECHENG, key="k1")
    again, created = handlers.create_subscription(
        stores, YUECHENG, {"url": first.url, "event_types": ["*"], "counties": ["330602"]},
        key="k1", destinations=public_destinations(), now=datetime.now(UTC))
    assert not created
    assert (again.id, again.secrets[0].value) == (first.id, first.secrets[0].value)
    assert len(stores.subscriptions.rows) == 1


def test_the_same_idempotency_key_with_another_body_is_a_conflict(stores):
    subscribe(stores, YUECHENG, key="k1")
    with pytest.raises(WrongState):
        subscribe(stores, YUECHENG, key="k1", event_types=["issue.created"])


def test_a_refused_url_is_422_and_nothing_is_stored(stores):
    destinations = public_destinations(("internal.example", ["10.0.0.8"]))
    with pytest.raises(DomainError) as refused:
        handlers.create_subscription(
            stores, YUECHENG, {"url": "https://internal.example/h", "event_types": ["*"],
                               "counties": ["330602"]},
            key=None, destinations=destinations, now=datetime.now(UTC))
    assert "url" in refused.value.errors
    assert stores.subscriptions.rows == {}


def test_a_county_subscribing_to_another_county_is_forbidden(stores):
    with pytest.raises(NotPermitted):
        subscribe(stores, YUECHENG, counties=["330603"])
    assert stores.subscriptions.rows == {}


def test_someone_elses_subscription_is_not_found_but_the_city_sees_it(stores):
    subscription = subscribe(stores, YUECHENG)
    with pytest.raises(Unknown):
        handlers.subscription_of(stores, KEQIAO, subscription.id)
    assert handlers.subscription_of(stores, CITY, subscription.id).id == subscription.id


def test_owners_list_their_own_subscriptions_and_the_city_lists_all(stores):
    mine = subscribe(stores, YUECHENG)
    subscribe(stores, KEQIAO)
    assert [s.id for s in handlers.list_subscriptions(stores, YUECHENG, None, 10)] == [mine.id]
    assert len(handlers.list_subscriptions(stores, CITY, None, 10)) == 2


# --- the consumer -------------------------------------------------------------------------------

def test_an_event_makes_one_pending_delivery_per_matching_subscription(stores, clock):
    yc, city = subscribe(stores, YUECHENG), subscribe(stores, CITY)
    subscribe(stores, KEQIAO)
    event = issue_created("330602")
    assert record(stores, event, clock) == PROCESSED
    assert sorted(d.subscription_id for d in stores.deliveries.all()) == sorted([yc.id, city.id])
    assert all(d.status == PENDING for d in stores.deliveries.all())


def test_a_redelivered_event_is_stored_once_and_creates_no_second_delivery(stores, clock):
    subscribe(stores, YUECHENG)
    event = issue_created("330602")
    record(stores, event, clock, offset=4)
    assert record(stores, event, clock, offset=4) == DUPLICATE
    assert record(stores, event, clock, offset=9) == DUPLICATE  # published twice by a relay
    assert len(stores.events.rows) == 1 and len(stores.deliveries.rows) == 1


def test_a_batch_keeps_log_order_and_counts_an_event_published_twice_in_it_once(stores, clock):
    yc = subscribe(stores, YUECHENG)
    first, second = issue_created("330602"), issue_created("330602")
    batch = [(first, ("supervision.issues.v1", 0, 7)), (second, ("supervision.issues.v1", 0, 8)),
             (first, ("supervision.issues.v1", 0, 9))]
    outcomes = recording.record_events(stores, batch, schedule=SCHEDULE, now=clock())
    assert outcomes == [PROCESSED, PROCESSED, DUPLICATE]
    assert stores.events.get(first.id).offset == 7
    assert stores.events.get(first.id).seq < stores.events.get(second.id).seq
    assert sorted(d.id for d in stores.deliveries.all()) == sorted(
        Delivery.id_for(yc.id, e.id) for e in (first, second))


def test_rule_u_a_planned_inspection_reaches_city_subscriptions_only(stores, clock):
    subscribe(stores, YUECHENG)
    city = subscribe(stores, CITY, event_types=["inspection.planned"])
    record(stores, inspection_planned("330602"), clock)
    assert [d.subscription_id for d in stores.deliveries.all()] == [city.id]


# --- the dispatcher -----------------------------------------------------------------------------

def test_a_delivery_is_signed_and_verifies_with_the_standard_webhooks_library(stores, clock):
    subscription = subscribe(stores, YUECHENG)
    event = issue_created("330602")
    record(stores, event, clock)
    endpoint = FakeEndpoint()
    clock.now = datetime.now(UTC)  # the library checks the timestamp against its own clock
    [attempt] = dispatch(stores, clock, endpoint)
    _, headers, body = endpoint.received[0]
    payload = Webhook(subscription.secrets[0].value).verify(body, headers)
    assert payload["id"] == event.id == headers["webhook-id"]
    assert headers["content-type"] == "application/json"
    assert json.loads(body)["data"]["item"]["problem"] == "个别党员大局意识不强"
    assert attempt.outcome == "success"
    assert stores.deliveries.all()[0].status == DELIVERED


def test_a_failing_endpoint_gets_the_event_on_the_third_attempt(stores, clock):
    subscribe(stores, YUECHENG)
    record(stores, issue_created("330602"), clock)
    endpoint = FakeEndpoint(statuses=[500, 503])
    outcomes = []
    for _ in range(3):
        outcomes += [a.outcome for a in dispatch(stores, clock, endpoint)]
        clock.advance(1)
    assert outcomes == ["http_error", "http_error", "success"]
    assert stores.deliveries.all()[0].status == DELIVERED


def test_a_retry_is_not_sent_before_its_time(stores, clock):
    subscribe(stores, YUECHENG)
    record(stores, issue_created("330602"), clock)
    dispatch(stores, clock, FakeEndpoint(statuses=[500]))
    assert dispatch(stores, clock, FakeEndpoint()) == []
    [attempt] = stores.attempts.rows
    assert attempt.next_attempt_at == clock() + timedelta(seconds=SCHEDULE[1])


def test_after_the_last_attempt_the_delivery_is_failed_and_replay_sends_it_again(stores, clock):
    subscription = subscribe(stores, YUECHENG)
    record(stores, issue_created("330602"), clock)
    endpoint = FakeEndpoint(statuses=[500, 500, 500])
    for _ in SCHEDULE:
        dispatch(stores, clock, endpoint)
        clock.advance(1)
    assert stores.deliveries.all()[0].status == FAILED
    count, more = handlers.replay(stores, YUECHENG, subscription.id,
                                  since=clock() - timedelta(hours=1), now=clock())
    assert (count, more) == (1, None)
    assert [a.outcome for a in dispatch(stores, clock, endpoint)] == ["success"]


def test_410_gone_disables_the_subscription_and_stops_its_other_deliveries(stores, clock):
    subscription = subscribe(stores, YUECHENG)
    first, second = issue_created("330602"), issue_created("330602")
    record(stores, first, clock, offset=0)
    record(stores, second, clock, offset=1)
    outcomes = [a and a.outcome for a in dispatch(stores, clock, FakeEndpoint(statuses=[410]),
                                                  per_subscription=1)]
    assert outcomes == ["gone"]
    assert stores.subscriptions.get(subscription.id).status == "disabled"
    assert dispatch(stores, clock, FakeEndpoint()) == [None]
    assert {d.event_id: d.status for d in stores.deliveries.all()} == {
        first.id: FAILED, second.id: CANCELLED}


def test_a_subjects_events_go_out_one_at_a_time_in_the_order_received(stores, clock):
    subscribe(stores, YUECHENG)
    v1 = issue_created("330602", item_id="item-1", version=1)
    v2 = issue_created("330602", item_id="item-1", version=2)
    record(stores, v1, clock, offset=0)
    record(stores, v2, clock, offset=1)
    endpoint = FakeEndpoint(statuses=[500])
    assert [a.event_id for a in dispatch(stores, clock, endpoint)] == [v1.id]
    clock.advance(1)
    assert [a.event_id for a in dispatch(stores, clock, endpoint)] == [v1.id]
    clock.advance(1)
    assert [a.event_id for a in dispatch(stores, clock, endpoint)] == [v2.id]
    assert [json.loads(body)["itemversion"] for _, _, body in endpoint.received] == [1, 1, 2]


def test_other_subjects_are_not_held_up_by_one_that_is_retrying(stores, clock):
    subscribe(stores, YUECHENG)
    stuck, free = issue_created("330602", item_id="a"), issue_created("330602", item_id="b")
    record(stores, stuck, clock, offset=0)
    record(stores, free, clock, offset=1)
    endpoint = FakeEndpoint(statuses=[500])
    assert sorted(a.outcome for a in dispatch(stores, clock, endpoint)) == [
        "http_error", "success"]


def test_no_subscription_gets_more_than_its_share_in_flight(stores, clock):
    busy_one = subscribe(stores, YUECHENG)
    other = subscribe(stores, CITY, counties=["330603"])
    for offset in range(6):
        record(stores, issue_created("330602"), clock, offset=offset)
    record(stores, issue_created("330603"), clock, offset=6)
    claimed = delivering.claim_due(stores, now=clock(), limit=16, lease=LEASE, holder="w",
                                 busy={busy_one.id: 1}, per_subscription=2)
    assert sorted(d.subscription_id for d in claimed) == sorted([busy_one.id, other.id])


def test_every_slot_is_used_when_the_slots_do_not_divide_among_the_subscriptions(stores, clock):
    counties = sorted(divisions.current().counties)
    subscribers = [subscribe(stores, CITY, counties=[county]) for county in counties]
    for n in range(len(counties) * 4):
        record(stores, issue_created(counties[n % len(counties)]), clock, offset=n)
    claimed = delivering.claim_due(stores, now=clock(), limit=16, lease=LEASE, holder="w",
                                 busy={}, per_subscription=4)
    per_subscription = Counter(d.subscription_id for d in claimed)
    assert len(claimed) == 16
    assert set(per_subscription) == {s.id for s in subscribers}
    assert max(per_subscription.values()) == 2  # 16 slots for the 9: none more than 2


def test_claims_go_round_the_subscriptions_so_a_backlog_takes_no_other_ones_slots(stores, clock):
    backlog = subscribe(stores, YUECHENG)
    other = subscribe(stores, CITY, counties=["330603"])
    for offset in range(20):
        record(stores, issue_created("330602"), clock, offset=offset)
    clock.advance(1)
    record(stores, issue_created("330603"), clock, offset=20)
    clock.advance(1)
    turns = [[d.subscription_id for d in delivering.claim_due(
        stores, now=clock(), limit=2, lease=LEASE, holder="w", busy={}, per_subscription=4,
        turn=turn)] for turn in (0, 1)]
    assert sorted(turns[0]) == sorted([backlog.id, other.id])
    assert turns[1] == [backlog.id, backlog.id]


def test_an_open_circuit_holds_its_subscriptions_deliveries_back_and_spends_no_attempt(
        stores, clock):
    down = subscribe(stores, YUECHENG)
    up = subscribe(stores, CITY, counties=["330603"])
    record(stores, issue_created("330602"), clock, offset=0)
    record(stores, issue_created("330603"), clock, offset=1)
    circuit = Circuit(open_until=clock() + timedelta(seconds=5))
    claimed = delivering.claim_due(stores, now=clock(), limit=16, lease=LEASE, holder="w",
                                 busy={}, per_subscription=4, circuits={down.id: circuit})
    assert [d.subscription_id for d in claimed] == [up.id]
    held = next(d for d in stores.deliveries.all() if d.subscription_id == down.id)
    assert (held.status, held.attempts) == (PENDING, 0)


def test_a_claim_whose_worker_died_is_taken_again_after_its_lease(stores, clock):
    subscribe(stores, YUECHENG)
    record(stores, issue_created("330602"), clock)
    [lost] = delivering.claim_due(stores, now=clock(), limit=1, lease=LEASE, holder="dead",
                                busy={}, per_subscription=4)
    assert lost.status == IN_FLIGHT
    assert dispatch(stores, clock, FakeEndpoint(), holder="w2") == []
    clock.advance(LEASE.total_seconds() + 1)
    assert [a.outcome for a in dispatch(stores, clock, FakeEndpoint(), holder="w2")] == [
        "success"]


def test_a_delivery_to_an_address_that_turned_private_is_refused_and_retried(stores, clock):
    subscribe(stores, YUECHENG, url="https://moved.example.cn/h")
    record(stores, issue_created("330602"), clock)
    endpoint = FakeEndpoint()
    claimed = delivering.claim_due(stores, now=clock(), limit=1, lease=LEASE, holder="w",
                                 busy={}, per_subscription=4)
    [attempt] = [delivering.attempt_delivery(
        stores, d, holder="w", send=endpoint, schedule=SCHEDULE, clock=clock,
        destinations=public_destinations(("moved.example.cn", ["10.1.1.1"]))) for d in claimed]
    assert attempt.outcome == "refused" and endpoint.received == []
    assert stores.deliveries.all()[0].status == PENDING


def test_an_attempt_is_sent_to_the_addresses_checked_and_the_name_is_resolved_once(
        stores, clock):
    subscribe(stores, YUECHENG, url="https://rebinding.example.cn/h")
    record(stores, issue_created("330602"), clock)
    answers = [["93.184.216.34"], ["127.0.0.1"]]  # public at the check, loopback after it
    lookups: list[str] = []

    def resolve(host: str) -> list[str]:
        lookups.append(host)
        return answers[min(len(lookups), len(answers)) - 1]

    endpoint = FakeEndpoint()
    [attempt] = [delivering.attempt_delivery(
        stores, d, holder="w", send=endpoint, schedule=SCHEDULE, clock=clock,
        destinations=handlers.Destinations(resolve, AllowList()))
        for d in delivering.claim_due(stores, now=clock(), limit=1, lease=LEASE, holder="w",
                                    busy={}, per_subscription=4)]
    assert attempt.outcome == "success"
    assert lookups == ["rebinding.example.cn"]
    assert endpoint.addresses == [["93.184.216.34"]]


# --- the feed -----------------------------------------------------------------------------------

def test_rule_u_a_county_feed_never_shows_a_planned_inspection_of_its_county(stores, clock):
    created = issue_created("330602")
    record(stores, inspection_planned("330602"), clock, offset=0)
    record(stores, created, clock, offset=1)
    record(stores, issue_created("330603"), clock, offset=2)
    page = feed.feed_page(stores, YUECHENG, FeedPosition(), None, 50)
    assert [e.id for e in page] == [created.id]
    assert len(feed.feed_page(stores, CITY, FeedPosition(), None, 50)) == 3
    asked = feed.feed_page(stores, YUECHENG, FeedPosition(), {"inspection.planned"}, 50)
    assert asked == []


def test_following_the_feed_while_events_arrive_gives_each_event_once(stores, clock):
    recorded, seen = [], []
    position = FeedPosition()
    for n in range(30):
        event = issue_created("330602", time=clock() - timedelta(seconds=n % 7))
        record(stores, event, clock, offset=n // 3, partition=n % 3)
        recorded.append(event.id)
        if n % 4 == 0:
            seen += [e.id for e in feed.feed_page(stores, YUECHENG, position, None, 2)]
    while page := feed.feed_page(stores, YUECHENG, position, None, 2):
        seen += [e.id for e in page]
    assert sorted(seen) == sorted(recorded) and len(seen) == len(set(seen))


def test_the_feed_keeps_only_the_types_asked_for(stores, clock):
    record(stores, issue_created("330602"), clock, offset=0)
    page = feed.feed_page(stores, YUECHENG, FeedPosition(), {"issue.reopened"}, 50)
    assert page == []
