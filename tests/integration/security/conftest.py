"""The three services' real apps on the real database, spoken to over HTTP only, as any caller
of the authorisation matrix; and the few resources the security specifications act on."""

from __future__ import annotations

import dataclasses
import io
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from services.inspections.app import create_app as inspections_app
from services.inspections.consumer import handlers_for as inspections_consumer
from services.issues.app import create_app as issues_app
from services.notifications.app import create_app as notifications_app
from shared import mongo
from shared.auth import mint
from shared.config import Settings
from tests.integration.security.matrix import PRINCIPALS, REGION, TEAM, C
from tests.photos import jpeg
from tests.unit.notifications.events import issue_created

WRONG_SECRET = "not-the-secret-of-this-deployment-at-all"


def item_body(county: str = C, **fields) -> dict:
    return {"county": county, "township": "灵芝镇", "village": "张市村",
            "problem": "个别党员大局意识不强、不配合支持“无违建村”创建工作",
            "measure": "每名党员写出《无违建承诺书》并向全村进行公示",
            "deadline": (date.today() + timedelta(days=60)).isoformat(),
            "responsible": "村党支部书记 张某某", "category": "软弱落后", "public": True} | fields


def plan_body(item_ids: list[str], **fields) -> dict:
    now = datetime.now(UTC)
    return {"target_county": C, "kind": "spot_check", "team": TEAM,
            "window_start": (now - timedelta(hours=1)).isoformat(),
            "window_end": (now + timedelta(days=1)).isoformat(), "item_ids": item_ids} | fields


def photo_upload() -> dict:
    return {"data": {"file": (io.BytesIO(jpeg()), "photo.jpg")},
            "content_type": "multipart/form-data"}


class Services:
    """The apps of issues, inspections and notifications on one set of databases."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.apps = {"issues": issues_app(settings), "inspections": inspections_app(settings),
                     "notifications": notifications_app(settings)}
        self.clients = {name: app.test_client() for name, app in self.apps.items()}
        self._keep_copy = inspections_consumer(settings)["issue.created"]
        self._shared: dict[str, dict] = {}

    def db(self, service: str):
        return mongo.database(self.settings, service)

    def stored(self) -> dict[str, list]:
        """Every document of every collection of the three services: what "nothing changed" is
        checked against, whatever way a service stores its data."""
        return {f"{service}.{name}": list(self.db(service)[name].find().sort("_id"))
                for service in self.apps for name in self.db(service).list_collection_names()}

    def headers(self, principal: str) -> dict[str, str]:
        p = PRINCIPALS[principal]
        if p.role is None:
            return {}
        secret = WRONG_SECRET if p.bad else self.settings.jwt_secret
        return {"Authorization": "Bearer " + mint(secret, sub=p.sub, role=p.role,
                                                  county=p.county, city=p.city)}

    def call(self, service: str, principal: str, method: str, path: str, **kwargs):
        headers = {**self.headers(principal), **kwargs.pop("headers", {})}
        return self.clients[service].open(path, method=method, headers=headers, **kwargs)

    def ok(self, service: str, principal: str, method: str, path: str, **kwargs) -> dict:
        answer = self.call(service, principal, method, path, **kwargs)
        assert answer.status_code in (200, 201), answer.get_json()
        return answer.get_json() | {"etag": answer.headers.get("ETag")}

    # --- resources, made through the API as their owners would -----------------------------

    def item(self) -> dict:
        return self.ok("issues", "city", "POST", "/v1/items", json=item_body())

    def pending_item(self) -> dict:
        item = self.item()
        for to, extra in (("in_progress", {}), ("pending_verification",
                                                {"evidence": ["整改照片.jpg"]})):
            item = self.ok("issues", "city", "POST", f"/v1/items/{item['id']}/transitions",
                           json={"to": to, **extra}, headers={"If-Match": item["etag"]})
        return item

    def item_photo(self) -> dict:
        item = self.item()
        return item | {"photo": self.photo("issues", "city", f"/v1/items/{item['id']}")}

    def started_photo(self) -> dict:
        started = self.started()
        return started | {"photo": self.photo(
            "inspections", "inspector_team", f"/v1/inspections/{started['id']}")}

    def photo(self, service: str, uploader: str, owner_path: str) -> str:
        return self.ok(service, uploader, "POST", f"{owner_path}/evidence", **photo_upload())["id"]

    def copied_item(self, county: str = C) -> str:
        """An item of ``county`` in the inspections service's copy, as its consumer keeps it
        from the issues topic."""
        event = issue_created(county, item_id=str(uuid.uuid4()))
        self._keep_copy(event)
        return event.subject

    def planned(self) -> dict:
        return self.ok("inspections", "city", "POST", "/v1/inspections",
                       json=plan_body([self.copied_item()]))

    def started(self) -> dict:
        planned = self.planned()
        return self.ok("inspections", "inspector_team", "POST",
                       f"/v1/inspections/{planned['id']}/start")

    def subscription(self, owner: str = "subscriber_c", url: str = "http://127.0.0.1:9/hook",
                     event_types: tuple[str, ...] = ("*",)) -> dict:
        return self.ok("notifications", owner, "POST", "/v1/subscriptions",
                       json={"url": url, "event_types": list(event_types),
                             "counties": [PRINCIPALS[owner].county or C]})

    def resource(self, kind: str, *, fresh: bool) -> dict:
        """A resource of ``kind``; one made for this request when the request changes it."""
        if fresh:
            return getattr(self, kind)()
        if kind not in self._shared:
            self._shared[kind] = getattr(self, kind)()
        return self._shared[kind]


def drop_databases(settings: Settings) -> None:
    client = mongo.client(settings.mongodb_uri)
    for name in client.list_database_names():
        if name.startswith(settings.database_prefix + "_"):
            client.drop_database(name)


def security_settings(base: Settings) -> Settings:
    # Webhook receivers of these tests run on loopback, which the address rule would refuse.
    # A province, so that city admins may be scoped to one of its cities (matrix.py).
    return dataclasses.replace(base, webhook_allowed_hosts=("127.0.0.1",), region=REGION)


@pytest.fixture(scope="module")
def services(base_settings) -> Services:
    """One world per module: the matrix makes afresh whatever a request changes."""
    settings = security_settings(
        dataclasses.replace(base_settings, database_prefix=f"t{uuid.uuid4().hex[:10]}"))
    yield Services(settings)
    drop_databases(settings)


@pytest.fixture
def fresh_services(settings) -> Services:
    """A world of this test's own (its databases are dropped with ``settings``)."""
    return Services(security_settings(settings))
