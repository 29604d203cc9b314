"""The sample county system trusts only what its subscription's secret signed."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
import requests
from standardwebhooks.webhooks import Webhook

from tools.demo.client import DemoError, Service, wait_ready
from tools.demo.story import CountySystem

SECRET = "whsec_" + base64.b64encode(b"a secret of thirty-two bytes!!!!").decode()
EVENT = {"id": "0b5e6f7a-1111-4222-8333-944455566677", "type": "issue.reopened",
         "subject": "item-1", "county": "330603", "data": {}}


@pytest.fixture
def system():
    county_system = CountySystem()
    county_system.start()
    yield county_system
    county_system.stop()


def deliver(system: CountySystem, secret: str, event: dict = EVENT) -> int:
    body = json.dumps(event)
    now = datetime.now(UTC)
    headers = {"webhook-id": event["id"], "webhook-timestamp": str(int(now.timestamp())),
               "webhook-signature": Webhook(secret).sign(event["id"], now, body),
               "content-type": "application/json"}
    return requests.post(system.url, data=body, headers=headers, timeout=5).status_code


def test_a_call_signed_with_the_subscription_secret_is_accepted_and_recorded(system):
    system.trust(SECRET)
    assert deliver(system, SECRET) == 204
    [received] = system.events()
    assert (received.id, received.type, received.subject, received.verified) == (
        EVENT["id"], "issue.reopened", "item-1", True)


def test_a_call_signed_with_another_secret_is_refused_and_marked_unverified(system):
    system.trust(SECRET)
    other = "whsec_" + base64.b64encode(b"somebody else's secret, 32 bytes").decode()
    assert deliver(system, other) == 401
    assert [e.verified for e in system.events()] == [False]


def test_before_the_subscription_exists_calls_are_asked_to_come_again(system):
    assert deliver(system, SECRET) == 503
    assert system.events() == []


def test_waiting_for_a_service_that_never_answers_fails_with_its_name_and_address():
    silent = Service("issues", "http://127.0.0.1:9")
    with pytest.raises(DemoError, match=r"issues at http://127\.0\.0\.1:9"):
        wait_ready([silent], timeout=0.5, say=lambda _line: None)
