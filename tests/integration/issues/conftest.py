"""The issues app on the real database, and callers of every role."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from services.issues.app import create_app
from services.issues.repository import ITEMS, MongoItemRepository
from shared.auth import mint

YUECHENG, KEQIAO = "330602", "330603"


class Caller:
    """The test client, speaking as one role (and county) with a bearer token."""

    def __init__(self, client, settings, role: str | None, county: str | None = None,
                 sub: str | None = None):
        self.client = client
        self.headers = {} if role is None else {"Authorization": "Bearer " + mint(
            settings.jwt_secret, sub=sub or f"{role}@{county or 'city'}", role=role,
            county=county)}

    def get(self, path: str, **kwargs):
        return self.client.get(path, headers={**self.headers, **kwargs.pop("headers", {})},
                               **kwargs)

    def post(self, path: str, **kwargs):
        return self.client.post(path, headers={**self.headers, **kwargs.pop("headers", {})},
                                **kwargs)

    def create(self, county: str = YUECHENG, **fields) -> dict:
        answer = self.post("/v1/items", json=item_body(county, **fields))
        assert answer.status_code == 201, answer.get_json()
        return answer.get_json()

    def move(self, item: dict, to: str, **body) -> dict:
        etag = self.get(f"/v1/items/{item['id']}").headers["ETag"]
        answer = self.post(f"/v1/items/{item['id']}/transitions", json={"to": to, **body},
                           headers={"If-Match": etag})
        assert answer.status_code == 200, answer.get_json()
        return answer.get_json()


def item_body(county: str = YUECHENG, **fields) -> dict:
    return {"county": county, "township": "灵芝镇", "village": "张市村",
            "problem": "个别党员大局意识不强、不配合支持“无违建村”创建工作",
            "measure": "每名党员写出《无违建承诺书》并向全村进行公示",
            "deadline": (date.today() + timedelta(days=60)).isoformat(),
            "responsible": "村党支部书记 张某某", "category": "软弱落后", "public": True,
            **fields}


@pytest.fixture
def app(settings):
    return create_app(settings)


@pytest.fixture
def db(app):
    return app.extensions["wiring"].db


@pytest.fixture
def repo(db) -> MongoItemRepository:
    return MongoItemRepository(db)


@pytest.fixture
def count_items(db):
    return lambda: db[ITEMS].count_documents({})


@pytest.fixture
def as_role(app, settings):
    client = app.test_client()

    def caller(role: str | None, county: str | None = None, sub: str | None = None) -> Caller:
        return Caller(client, settings, role, county, sub)

    return caller


@pytest.fixture
def city(as_role) -> Caller:
    return as_role("city_admin")


@pytest.fixture
def yuecheng(as_role) -> Caller:
    return as_role("county_admin", YUECHENG)


@pytest.fixture
def keqiao(as_role) -> Caller:
    return as_role("county_admin", KEQIAO)


def close(county_admin: Caller, city: Caller, item: dict) -> dict:
    county_admin.move(item, "in_progress")
    county_admin.move(item, "pending_verification", evidence=["整改照片.jpg"])
    return city.move(item, "closed")


