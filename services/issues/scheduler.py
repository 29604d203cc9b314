"""Announces overdue items: ``python -m services.issues.scheduler``.

Every OVERDUE_SCAN_SECONDS (default 30) the instance holding the lease scans for items past
their deadline, not closed and not yet announced for that deadline, and publishes issue.overdue
through the outbox. Restarts lose nothing (the scan finds what is still unannounced), and two
instances announce an item once: the lease keeps one scanning, and each announcement is a
version-guarded write that a second writer cannot repeat.
"""

from __future__ import annotations

import logging
import os
import socket
import threading

from services.issues import SERVICE, bootstrap, handlers
from shared import process
from shared.clock import now_ms
from shared.config import Settings
from shared.outbox import lease

log = logging.getLogger(__name__)
LEASE = "issues-overdue-scan"


def run(settings: Settings, stop: threading.Event, interval: float) -> None:
    issues = bootstrap.build(settings)
    holder = f"{socket.gethostname()}:{os.getpid()}"
    while not stop.is_set():
        try:
            # The lease outlives a scan interval, so the holder keeps it from one scan to the next.
            if lease(issues.db, LEASE, holder, seconds=max(3 * interval, 10)):
                announced = handlers.announce_overdue(issues.items, at=now_ms())
                if announced:
                    log.info("overdue items announced", extra={"count": announced})
        except Exception:  # noqa: BLE001 — a failed scan is retried at the next tick
            log.exception("overdue scan failed; retrying at the next tick")
        stop.wait(interval)


def main() -> None:
    settings = process.start(f"{SERVICE}-scheduler")
    run(settings, process.stop_on_signals(), settings.overdue_scan_seconds)


if __name__ == "__main__":
    main()
