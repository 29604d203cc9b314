"""Configuration comes from the environment variables the README lists, with its defaults."""

import pytest

from shared.config import Settings


def test_defaults_are_the_contract_local_defaults():
    settings = Settings.from_env({})
    assert settings.kafka_bootstrap_servers == "127.0.0.1:9092"
    assert settings.mongodb_uri == "mongodb://127.0.0.1:27017"
    assert settings.webhook_retry_schedule == (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
    assert settings.reopen_deadline_days == 30
    assert settings.webhook_allowed_hosts == ()
    assert settings.topic("supervision.issues.v1") == "supervision.issues.v1"


def test_every_variable_is_read():
    settings = Settings.from_env({
        "SUPERVISION_JWT_SECRET": "s", "KAFKA_BOOTSTRAP_SERVERS": "k:1",
        "MONGODB_URI": "mongodb://m:2", "WEBHOOK_ALLOWED_HOSTS": "10.0.0.0/8, hooks.local",
        "WEBHOOK_RETRY_SCHEDULE": "0,1,2", "REOPEN_DEADLINE_DAYS": "15",
        "KAFKA_TOPIC_PREFIX": "t1.", "DATABASE_PREFIX": "x"})
    assert settings.jwt_secret == "s"
    assert settings.webhook_allowed_hosts == ("10.0.0.0/8", "hooks.local")
    assert settings.webhook_retry_schedule == (0, 1, 2)
    assert settings.reopen_deadline_days == 15
    assert settings.topic("supervision.issues.v1") == "t1.supervision.issues.v1"
    assert settings.database_name("issues") == "x_issues"


@pytest.mark.parametrize("schedule", ["", "1,two", "-1,5"])
def test_a_bad_retry_schedule_is_refused_at_start(schedule):
    with pytest.raises(ValueError):
        Settings.from_env({"WEBHOOK_RETRY_SCHEDULE": schedule})
