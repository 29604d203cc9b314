"""The HTTP API (docs/api.md, notifications): thin views that parse, call a handler, answer."""

from __future__ import annotations

import dataclasses

from flask.views import MethodView
from flask_smorest import Blueprint

from services.notifications import handlers
from services.notifications.domain.feed import FeedPosition
from services.notifications.domain.subscriptions import Subscription
from services.notifications.feed import wait_for_feed
from services.notifications.metrics import FEED_LAG
from services.notifications.schemas import (
    AttemptPage,
    FeedArgs,
    FeedPage,
    ReplayIn,
    ReplayOut,
    SecretRotated,
    SubscriptionCreated,
    SubscriptionIn,
    SubscriptionOut,
    SubscriptionPage,
)
from shared import idempotency
from shared.auth import Caller, require
from shared.clock import now_ms
from shared.pagination import PageArgs, decode_cursor, encode_cursor, time_and_id
from shared.web import wiring

OWNERS = ("city_admin", "county_admin", "subscriber")


subscriptions = Blueprint(
    "subscriptions", __name__, url_prefix="/v1/subscriptions",
    description="Webhook subscriptions of county systems and the city. The owner (the token's "
                "`sub`) manages a subscription; city_admin sees and manages every one. Another "
                "caller gets 404, never 403, so that a subscription's existence is not told.")


@subscriptions.route("")
class SubscriptionList(MethodView):
    @require(*OWNERS)
    @idempotency.idempotent(lambda: wiring().db)
    @subscriptions.arguments(SubscriptionIn)
    @subscriptions.response(201, SubscriptionCreated)
    @subscriptions.alt_response(200, schema=SubscriptionCreated,
                                description="the first answer again, for a retried "
                                            "Idempotency-Key with the same body")
    def post(self, body: dict, caller: Caller):
        """Subscribe a URL to events; the answer carries the signing secret, once.

        URLs whose host resolves to a loopback, private, link-local, unique-local, multicast,
        unspecified or metadata address are refused (422) unless WEBHOOK_ALLOWED_HOSTS admits
        them. With an Idempotency-Key, a retry answers the first result again (secret included).
        """
        w = wiring()
        subscription, created = handlers.create_subscription(
            w.stores, caller, body, key=idempotency.key(), destinations=w.destinations,
            now=now_ms())
        return _created(subscription), 201 if created else 200

    @require(*OWNERS)
    @subscriptions.arguments(PageArgs, location="query")
    @subscriptions.response(200, SubscriptionPage)
    def get(self, args: dict, caller: Caller):
        """The caller's subscriptions (every one for city_admin); no secrets."""
        after = decode_cursor(args["cursor"], _last_subscription)
        page = handlers.list_subscriptions(wiring().stores, caller, after, args["limit"] + 1)
        more = len(page) > args["limit"]
        page = page[: args["limit"]]
        return {"items": page,
                "next_cursor": encode_cursor({"after": page[-1].id}) if more else None}


@subscriptions.route("/<id_>")
class SubscriptionOne(MethodView):
    @require(*OWNERS)
    @subscriptions.response(200, SubscriptionOut)
    def get(self, id_: str, caller: Caller):
        """One subscription; its secret is never shown again."""
        return handlers.subscription_of(wiring().stores, caller, id_)

    @require(*OWNERS)
    @subscriptions.response(204)
    def delete(self, id_: str, caller: Caller):
        """Stop the subscription: nothing more is delivered to it; it no longer shows."""
        handlers.change_subscription(wiring().stores, caller, id_, Subscription.delete)


@subscriptions.post("/<id_>/rotate-secret")
@require(*OWNERS)
@subscriptions.response(200, SecretRotated)
def rotate_secret(id_: str, caller: Caller):
    """A new signing secret, shown once. The previous one keeps signing beside it (two
    signatures in webhook-signature) for WEBHOOK_SECRET_GRACE_SECONDS (default one day)."""
    w = wiring()
    subscription, secret = handlers.rotate_secret(w.stores, caller, id_,
                                                  grace=w.secret_grace, now=now_ms())
    previous = [s.expires_at for s in subscription.secrets[1:] if s.expires_at]
    return {"id": subscription.id, "secret": secret,
            "previous_secret_expires_at": max(previous, default=None)}


@subscriptions.post("/<id_>/enable")
@require(*OWNERS)
@subscriptions.response(200, SubscriptionOut)
def enable(id_: str, caller: Caller):
    """Re-enable a subscription disabled by a 410 Gone. Events that arrived while it was
    disabled were not queued for it: replay from its `disabled_at` to get them."""
    subscription, _ = handlers.change_subscription(wiring().stores, caller, id_,
                                                   Subscription.enable)
    return subscription


@subscriptions.route("/<id_>/deliveries")
@require(*OWNERS)
@subscriptions.arguments(PageArgs, location="query")
@subscriptions.response(200, AttemptPage)
def deliveries(args: dict, id_: str, caller: Caller):
    """Every delivery attempt, newest first: event, time, HTTP status, latency, error and
    when the next attempt is due."""
    before = decode_cursor(args["cursor"], time_and_id)
    page = handlers.delivery_log(wiring().stores, caller, id_, before, args["limit"] + 1)
    more = len(page) > args["limit"]
    page = page[: args["limit"]]
    cursor = encode_cursor({"at": page[-1].at.isoformat(), "id": page[-1].id}) if more else None
    return {"items": page, "next_cursor": cursor}


@subscriptions.post("/<id_>/replay")
@require(*OWNERS)
@subscriptions.arguments(ReplayIn)
@subscriptions.response(202, ReplayOut)
def replay(body: dict, id_: str, caller: Caller):
    """Deliver again every stored event since `since` that the subscription wants, from the
    first attempt (the same webhook-id as before, so receivers can tell a repeat)."""
    count, more = handlers.replay(wiring().stores, caller, id_, since=body["since"],
                                  now=now_ms())
    return {"replayed": count, "continue_since": more}


feed = Blueprint(
    "feed", __name__, url_prefix="/v1/feed",
    description="The pull feed: the caller's events in a stable order, resumable by cursor.")


@feed.route("")
@require(*OWNERS)
@feed.arguments(FeedArgs, location="query")
@feed.response(200, FeedPage)
def read_feed(args: dict, caller: Caller):
    """The caller's events after the cursor: a county role its own county's (never
    inspection.planned, rule U), the city every county's.

    Each Kafka partition is kept in its log order and the cursor holds the last offset served
    per partition, so following next_cursor gives every event once, with no gaps, even while
    events are being appended. A page interleaves partitions by event time; events of one item
    share a partition and so always come in order. `wait` (up to 30 s) holds the request until
    an event comes.
    """
    position = FeedPosition(decode_cursor(args["after"], _offsets, field="after") or {})
    types = {t.strip() for t in args["types"].split(",") if t.strip()} if args["types"] else None
    page = wait_for_feed(wiring().stores, caller, position, types, args["limit"],
                         wait=args["wait"])
    now = now_ms()
    for event in page:
        FEED_LAG.observe(max((now - event.time).total_seconds(), 0))
    return {"items": [e.envelope for e in page], "next_cursor": encode_cursor(position.offsets)}


def _last_subscription(position: dict) -> str:
    """A cursor reader: the id of the last subscription served."""
    if not isinstance(position["after"], str):
        raise TypeError("a subscriptions cursor holds the last id served")
    return position["after"]


def _offsets(position: dict) -> dict[str, int]:
    """A cursor reader: the last offset served per partition."""
    if not all(isinstance(k, str) and type(v) is int for k, v in position.items()):
        raise TypeError("a feed cursor holds an offset per partition")
    return position


def _created(subscription: Subscription) -> dict:
    return {**dataclasses.asdict(subscription), "secret": subscription.secrets[0].value}
