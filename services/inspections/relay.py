"""Publishes the events the inspections service wrote to its outboxes:
``python -m services.inspections.relay`` (shared.outbox: one relay at a time holds the lease)."""

from __future__ import annotations

from services.inspections import SERVICE, bootstrap
from shared.outbox import run_relay


def main() -> None:
    run_relay(SERVICE, lambda settings: bootstrap.build(settings).db)


if __name__ == "__main__":
    main()
