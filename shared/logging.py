"""Structured JSON logs carrying the request id and the event id of the work in hand."""

from __future__ import annotations

import contextvars
import logging
import sys

from pythonjsonlogger.json import JsonFormatter

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
event_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("event_id", default=None)


class _ContextFilter(logging.Filter):
    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        record.request_id = getattr(record, "request_id", None) or request_id.get()
        record.event_id = getattr(record, "event_id", None) or event_id.get()
        return True


def configure(service: str, level: str = "INFO") -> None:
    """Send every log record to stderr as one JSON object a line."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s "
            "%(service)s %(request_id)s %(event_id)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    )
    handler.addFilter(_ContextFilter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # The Kafka client is chatty at INFO about every connection it opens.
    logging.getLogger("kafka").setLevel(logging.WARNING)
