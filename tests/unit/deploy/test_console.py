"""What `make run`'s console shows of a process's output line (deploy/local/supervise.py)."""

from __future__ import annotations

import importlib.util
import json

from tests.unit.deploy.deployment import ROOT

_spec = importlib.util.spec_from_file_location("supervise", ROOT / "deploy/local/supervise.py")
supervise = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(supervise)


def record(level: str, message: str, **extra) -> str:
    return json.dumps({"time": "2026-12-01 21:43:37,835", "level": level, "logger": "x",
                       "message": message, "service": "issues", **extra})


def test_requests_and_other_info_records_stay_in_the_log_file():
    assert supervise.in_words(record("INFO", "request", status=200)) is None
    assert supervise.in_words(record("DEBUG", "detail")) is None
    assert supervise.in_words("") is None


def test_warnings_and_errors_are_said_in_words():
    assert supervise.in_words(record("WARNING", "event not applied, will retry")) == (
        "warning", "event not applied, will retry")
    assert supervise.in_words(record("CRITICAL", "gone")) == ("error", "gone")


def test_an_error_brings_the_last_line_of_its_exception():
    line = record("ERROR", "record dead-lettered",
                  exc_info='Traceback (most recent call last):\n  File "x"\nValueError: bad')
    assert supervise.in_words(line) == ("error", "record dead-lettered (ValueError: bad)")


def test_gunicorn_lines_show_from_warning_up():
    assert supervise.in_words("[2026-12-01 21:00:00 +0000] [123] [INFO] Booting worker") is None
    assert supervise.in_words(
        "[2026-12-01 21:00:00 +0000] [123] [ERROR] Connection in use: ('127.0.0.1', 8001)") == (
        "error", "Connection in use: ('127.0.0.1', 8001)")


def test_a_line_that_is_no_log_record_shows_as_it_is():
    assert supervise.in_words("ModuleNotFoundError: No module named 'x'\n") == (
        "output", "ModuleNotFoundError: No module named 'x'")


def test_a_line_repeated_within_the_window_is_left_out_and_counted():
    repeats = supervise.Repeats()
    window = supervise.REPEAT_SECONDS
    assert repeats.show("consumer: error: handler failed", 0) == "consumer: error: handler failed"
    assert repeats.show("consumer: error: handler failed", 1) is None
    assert repeats.show("consumer: error: handler failed", window - 1) is None
    assert repeats.show("relay: warning: pass failed", 2) == "relay: warning: pass failed"
    assert repeats.show("consumer: error: handler failed", window + 0.5) == (
        "consumer: error: handler failed (and 2 more like it)")
    assert repeats.show("consumer: error: handler failed", 2 * window + 1) == (
        "consumer: error: handler failed")
