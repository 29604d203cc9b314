"""What the API answers when the database fails: 503 with Retry-After when it cannot serve now
(so the client tries again and nothing was changed), 500 when the fault is ours."""

import pytest
from flask import Flask
from pymongo.errors import AutoReconnect, DuplicateKeyError, OperationFailure

from shared import mongo
from shared.errors import register_error_handlers

STORAGE_AWAY = OperationFailure("failed to connect to `user=postgres database=ferretdb`", code=1)


def answer_to(exc: Exception):
    app = Flask(__name__)
    register_error_handlers(app)

    @app.post("/write")
    def write():
        raise exc

    return app.test_client().post("/write")


@pytest.mark.parametrize("exc", [AutoReconnect("connection refused"), STORAGE_AWAY,
                                 OperationFailure("primary stepped down", code=189)])
def test_a_database_that_cannot_serve_now_is_a_503_to_try_again(exc):
    answer = answer_to(exc)
    assert answer.status_code == 503
    assert answer.mimetype == "application/problem+json"
    assert answer.headers["Retry-After"] == "5"
    assert "nothing was changed" in answer.json["detail"]


@pytest.mark.parametrize("exc", [OperationFailure("bad value", code=2),
                                 DuplicateKeyError("E11000 duplicate key", code=11000)])
def test_a_database_error_that_would_repeat_is_ours_a_500(exc):
    assert mongo.unavailable(exc) is False
    assert answer_to(exc).status_code == 500
