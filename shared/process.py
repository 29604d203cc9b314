"""What every process beside a web app does first: read the settings, log as itself, serve its
own /metrics where it shares no directory with a web process, and stop on SIGTERM or SIGINT.

A process's loops watch the ``stop`` event ``stop_on_signals`` answers: a signal lets them finish
what they hold (an attempt in flight, a batch being confirmed) and leave, so nothing accepted is
lost.
"""

from __future__ import annotations

import signal
import threading

from shared import logging as slog
from shared import metrics
from shared.config import Settings


def stop_on_signals(stop: threading.Event | None = None) -> threading.Event:
    """An event SIGTERM and SIGINT set (``stop``, or a new one)."""
    stop = stop or threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def start(name: str) -> Settings:
    """Begin the process ``name`` (e.g. ``issues-relay``) and answer its settings."""
    settings = Settings.from_env()
    slog.configure(name, settings.log_level)
    metrics.serve_from_env(settings)
    return settings
