"""The rules of notifying county systems, on the domain model alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from services.notifications.domain.deliveries import (
    DELIVERED,
    FAILED,
    PENDING,
    Answer,
    Delivery,
    next_delay,
)
from services.notifications.domain.feed import FeedPosition, StoredEvent, merge_page
from services.notifications.domain.rule_u import sees
from services.notifications.domain.signing import signature_header
from services.notifications.domain.subscriptions import InvalidSubscription, Subscription
from services.notifications.domain.url_safety import AllowList, address_problem, destination_problem
from shared.domain import Caller

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
TYPES = ("issue.created", "issue.reopened", "inspection.planned", "inspection.started")
COUNTIES = ("330602", "330603")


CITY = Caller("city-1", "city_admin")
YUECHENG = Caller("yc-system", "subscriber", "330602")
# A province's city admin scoped to 绍兴市 by the token's city claim, and one of 杭州市.
SHAOXING = Caller("sx-office", "city_admin", city="330600")
HANGZHOU_COUNTY = "330106"


def subscription(caller=YUECHENG, event_types=("*",), counties=None) -> Subscription:
    return Subscription.create(
        id="s1", caller=caller, url="https://hooks.example.cn/x", event_types=event_types,
        counties=counties or ([caller.county] if caller.county else ["*"]),
        known_types=TYPES, known_counties=(*COUNTIES, HANGZHOU_COUNTY), now=NOW,
        owner_city=caller.city)


# --- rule U and matching ------------------------------------------------------------------------

def test_rule_u_a_county_never_sees_a_planned_inspection_even_of_its_own_county():
    assert not sees(YUECHENG, "inspection.planned", "330602")
    assert sees(YUECHENG, "inspection.started", "330602")


def test_rule_u_the_city_sees_planned_inspections():
    assert sees(CITY, "inspection.planned", "330602")


def test_a_county_scope_sees_only_its_own_county():
    assert not sees(YUECHENG, "issue.created", "330603")


def test_a_city_scoped_admin_sees_its_citys_events_planned_inspections_included_and_no_other():
    assert sees(SHAOXING, "inspection.planned", "330602")
    assert sees(SHAOXING, "issue.created", "330603")
    assert not sees(SHAOXING, "issue.created", HANGZHOU_COUNTY)


def test_a_city_scoped_admins_subscription_to_every_county_gets_its_city_only():
    everything = subscription(SHAOXING, ("*",), ["*"])
    assert everything.wants("inspection.planned", "330602")
    assert not everything.wants("issue.created", HANGZHOU_COUNTY)


def test_a_city_scoped_admin_may_not_subscribe_to_another_citys_county():
    with pytest.raises(InvalidSubscription) as refused:
        subscription(SHAOXING, ("*",), ["330602", HANGZHOU_COUNTY])
    assert HANGZHOU_COUNTY in refused.value.errors["counties"][0]


def test_a_city_scoped_admin_manages_the_subscriptions_of_its_city_only():
    of_its_city = subscription(YUECHENG)
    of_its_city.owner_city = "330600"  # as the handlers record a county role's city
    other = Caller("hz-office", "city_admin", city="330100")
    assert of_its_city.owned_by(SHAOXING) and of_its_city.owned_by(CITY)
    assert not of_its_city.owned_by(other)


def test_a_county_subscription_to_everything_still_never_gets_inspection_planned():
    assert not subscription(YUECHENG, ("*",)).wants("inspection.planned", "330602")
    assert not subscription(YUECHENG, ("inspection.planned",)).wants("inspection.planned",
                                                                     "330602")


def test_a_city_subscription_gets_inspection_planned_of_the_counties_it_names():
    city = subscription(CITY, ("inspection.planned",), ["330602"])
    assert city.wants("inspection.planned", "330602")
    assert not city.wants("inspection.planned", "330603")


def test_a_subscription_matches_its_event_types_or_star():
    chosen = subscription(YUECHENG, ("issue.reopened",))
    assert chosen.wants("issue.reopened", "330602")
    assert not chosen.wants("issue.created", "330602")
    assert subscription(YUECHENG, ("*",)).wants("issue.created", "330602")


def test_a_city_subscription_to_all_counties_matches_every_county():
    assert subscription(CITY, ("*",), ["*"]).wants("issue.created", "330603")


def test_a_county_role_may_subscribe_to_its_own_county_only():
    with pytest.raises(InvalidSubscription) as refused:
        subscription(YUECHENG, counties=["330603"])
    assert "counties" in refused.value.errors


def test_unknown_event_types_and_counties_are_refused():
    with pytest.raises(InvalidSubscription) as refused:
        subscription(CITY, ("issue.nonsense",), ["999999"])
    assert set(refused.value.errors) == {"event_types", "counties"}


# --- signatures and rotation --------------------------------------------------------------------

def _headers(sub: Subscription, when: datetime, body: bytes) -> dict:
    ts = int(when.timestamp())
    return {"webhook-id": "msg_1", "webhook-timestamp": str(ts),
            "webhook-signature": signature_header(sub.signing_secrets(when), "msg_1", ts, body)}


def test_signatures_verify_with_the_standard_webhooks_library():
    sub = subscription()
    body = '{"type":"issue.created","data":{"problem":"个别党员"}}'.encode()
    now = datetime.now(UTC)
    assert Webhook(sub.secrets[0].value).verify(body, _headers(sub, now, body))


def test_a_signature_does_not_verify_with_another_secret_or_body():
    sub, other = subscription(), subscription()
    body = b'{"a":1}'
    headers = _headers(sub, datetime.now(UTC), body)
    with pytest.raises(WebhookVerificationError):
        Webhook(other.secrets[0].value).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(sub.secrets[0].value).verify(b'{"a":2}', headers)


def test_after_rotation_old_and_new_secrets_both_sign_during_the_grace_period():
    sub = subscription()
    old = sub.secrets[0].value
    now = datetime.now(UTC)
    new = sub.rotate_secret(now, timedelta(hours=24))
    body = b'{"a":1}'
    headers = _headers(sub, now, body)
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert Webhook(old).verify(body, headers)
    assert Webhook(new).verify(body, headers)


def test_after_the_grace_period_only_the_new_secret_signs():
    sub = subscription()
    old = sub.secrets[0].value
    new = sub.rotate_secret(NOW, timedelta(hours=24))
    later = NOW + timedelta(hours=24, seconds=1)
    assert sub.signing_secrets(later) == [new]
    assert old not in sub.signing_secrets(later)


def test_rotating_twice_never_extends_an_old_secrets_life():
    sub = subscription()
    first = sub.secrets[0].value
    sub.rotate_secret(NOW, timedelta(hours=24))
    sub.rotate_secret(NOW + timedelta(hours=23), timedelta(hours=24))
    assert first not in sub.signing_secrets(NOW + timedelta(hours=25))
    assert len(sub.signing_secrets(NOW + timedelta(hours=25))) == 2


def test_a_secret_is_whsec_and_at_least_24_random_bytes():
    secret = subscription().secrets[0].value
    assert secret.startswith("whsec_")
    import base64
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) >= 24


# --- webhook URL safety -------------------------------------------------------------------------

@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.8.9.10", "::1",                      # loopback
    "10.1.2.3", "172.16.0.1", "192.168.1.1",               # private
    "169.254.1.1", "fe80::1",                              # link-local
    "169.254.169.254", "fd00:ec2::254",                    # cloud metadata
    "fc00::1", "fd12:3456::1",                             # unique-local
    "224.0.0.1", "239.255.255.250", "ff02::1",             # multicast
    "0.0.0.0", "::",                                       # unspecified
    "::ffff:127.0.0.1", "::ffff:10.0.0.1",                 # IPv4-mapped forms of the above
    "100.64.0.1",                                          # carrier-grade NAT
])
def test_webhooks_are_refused_to_non_public_addresses(address):
    assert address_problem(address) is not None
    assert destination_problem("https://hook.example.cn/x", [address], AllowList()) is not None


def test_the_metadata_address_is_named_as_such():
    assert "metadata" in address_problem("169.254.169.254")
    assert "metadata" in address_problem("fd00:ec2::254")


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700:4700::1111"])
def test_public_addresses_are_accepted(address):
    assert destination_problem("https://hook.example.cn/x", [address], AllowList()) is None


def test_one_private_address_among_public_ones_is_enough_to_refuse():
    assert destination_problem("https://h.example.cn/", ["93.184.216.34", "10.0.0.1"],
                               AllowList()) is not None


def test_the_allow_list_admits_a_host_by_name():
    allowed = AllowList.parse(["receiver.internal"])
    assert destination_problem("http://receiver.internal:8080/h", ["10.0.0.5"], allowed) is None
    assert destination_problem("http://other.internal/h", ["10.0.0.5"], allowed) is not None


def test_the_allow_list_admits_addresses_by_cidr_or_single_address():
    allowed = AllowList.parse(["10.20.0.0/16", "127.0.0.1", "fd00::/8"])
    assert destination_problem("http://a.example/h", ["10.20.3.4"], allowed) is None
    assert destination_problem("http://127.0.0.1:9000/h", ["127.0.0.1"], allowed) is None
    assert destination_problem("http://b.example/h", ["fd00::5"], allowed) is None
    assert destination_problem("http://c.example/h", ["10.21.0.1"], allowed) is not None


@pytest.mark.parametrize("url", ["ftp://hook.example.cn/x", "file:///etc/passwd", "https:///x",
                                 "https://user:pw@hook.example.cn/x", "hook.example.cn/x"])
def test_urls_must_be_http_or_https_with_a_host_and_no_credentials(url):
    assert destination_problem(url, ["93.184.216.34"], AllowList()) is not None


def test_a_host_that_does_not_resolve_is_refused():
    assert "does not resolve" in destination_problem("https://nowhere.example/", [], AllowList())


# --- the retry schedule -------------------------------------------------------------------------

DEFAULT_SCHEDULE = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)


def test_attempt_i_waits_schedule_i_and_the_schedule_gives_the_number_of_attempts():
    assert [next_delay(DEFAULT_SCHEDULE, n) for n in range(9)] == [*DEFAULT_SCHEDULE, None]


def _delivery() -> Delivery:
    return Delivery(id="s1:e1", subscription_id="s1", event_id="e1", event_type="issue.created",
                    subject="item-1", seq=1, event_time=NOW, next_attempt_at=NOW)


def test_a_failed_attempt_is_retried_after_the_next_delay_of_the_schedule():
    delivery = _delivery()
    delivery.record(Answer(503, 5.0, "HTTP 503"), DEFAULT_SCHEDULE, NOW)
    assert (delivery.status, delivery.attempts) == (PENDING, 1)
    assert delivery.next_attempt_at == NOW + timedelta(seconds=5)
    delivery.record(Answer(None, 10000.0, "no answer"), DEFAULT_SCHEDULE, NOW)
    assert delivery.next_attempt_at == NOW + timedelta(seconds=300)


def test_after_the_last_attempt_the_delivery_is_failed():
    delivery = _delivery()
    for _ in DEFAULT_SCHEDULE:
        delivery.record(Answer(500, 1.0, "HTTP 500"), DEFAULT_SCHEDULE, NOW)
    assert (delivery.status, delivery.attempts) == (FAILED, len(DEFAULT_SCHEDULE))


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_any_2xx_is_success(status):
    delivery = _delivery()
    delivery.record(Answer(status, 1.0), DEFAULT_SCHEDULE, NOW)
    assert delivery.status == DELIVERED


@pytest.mark.parametrize("status", [301, 302, 307, 400, 404, 429, 500])
def test_redirects_and_errors_are_failures_to_retry(status):
    delivery = _delivery()
    delivery.record(Answer(status, 1.0, f"HTTP {status}"), DEFAULT_SCHEDULE, NOW)
    assert delivery.status == PENDING


def test_410_gone_is_not_retried():
    delivery = _delivery()
    delivery.record(Answer(410, 1.0, "HTTP 410"), DEFAULT_SCHEDULE, NOW)
    assert delivery.status == FAILED


def test_a_replayed_delivery_starts_again_from_the_first_attempt():
    delivery = _delivery()
    delivery.record(Answer(410, 1.0, "HTTP 410"), DEFAULT_SCHEDULE, NOW)
    assert delivery.replay(NOW)
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (PENDING, 0, NOW)


def test_a_delivery_on_its_way_is_not_replayed():
    assert not _delivery().replay(NOW)


def test_a_subscription_disabled_by_410_can_be_enabled_again():
    sub = subscription()
    sub.disable("410", NOW)
    assert sub.status == "disabled" and sub.disabled_at == NOW
    sub.enable()
    assert sub.status == "active"


# --- the feed -----------------------------------------------------------------------------------

def _stored(partition: str, offset: int, minute: int) -> StoredEvent:
    return StoredEvent(id=f"{partition}/{offset}", type="issue.created", county="330602",
                       subject="i", time=NOW + timedelta(minutes=minute), seq=0,
                       partition=partition, offset=offset, envelope={})


def test_a_page_takes_a_prefix_of_each_partition_even_when_times_are_not_in_order():
    a = [_stored("t:0", 1, 5), _stored("t:0", 2, 1)]  # offset 2 is older by its clock
    b = [_stored("t:1", 7, 3)]
    page = merge_page([a, b], limit=2)
    assert [(e.partition, e.offset) for e in page] == [("t:1", 7), ("t:0", 1)]


def test_the_position_advances_to_the_last_offset_served_per_partition():
    position = FeedPosition({"t:0": 3})
    position.advance([_stored("t:0", 5, 0), _stored("t:1", 2, 0)])
    assert position.offsets == {"t:0": 5, "t:1": 2}
    assert position.after("t:2") == -1
