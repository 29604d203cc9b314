"""Gauges counted from the database, reported by one process of the service: the holder of a
lease (``shared.outbox.lease``). A figure read by every process that serves ``/metrics`` would
be added up once per replica by ``sum``; from one process, ``sum`` over every target the service
has is the figure itself. The gauges are ``mostrecent``: where processes share a multiprocess
directory, a new holder's values replace those its predecessor left.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable

from shared.outbox import lease

log = logging.getLogger(__name__)


def report_under_lease(db, name: str, report: Callable[[], None], clear: Callable[[], None],
                       stop: threading.Event, seconds: float) -> None:
    """Every ``seconds`` until ``stop``: ``report()`` while this process holds the lease ``name``
    (renewed each time, lost after three missed turns), else ``clear()`` (the holder reports)."""
    holder = f"{socket.gethostname()}:{os.getpid()}"
    while not stop.is_set():
        try:
            if lease(db, name, holder, seconds=max(3 * seconds, 10)):
                report()
            else:
                clear()
        except Exception:  # noqa: BLE001 — a failed read is retried at the next turn
            log.exception("gauges not read; retrying", extra={"lease": name})
        stop.wait(seconds)


def start_reporting(db, name: str, report: Callable[[], None], clear: Callable[[], None],
                    stop: threading.Event, seconds: float) -> threading.Thread:
    """``report_under_lease`` in a daemon thread of its own, started."""
    thread = threading.Thread(target=report_under_lease, name=f"gauges:{name}", daemon=True,
                              args=(db, name, report, clear, stop, seconds))
    thread.start()
    return thread
