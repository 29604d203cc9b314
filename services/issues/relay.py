"""Publishes the events the issues service's processes wrote to their outboxes:
``python -m services.issues.relay`` (shared.outbox: one relay at a time holds the lease)."""

from __future__ import annotations

from services.issues import SERVICE, bootstrap
from shared.outbox import run_relay


def main() -> None:
    run_relay(SERVICE, lambda settings: bootstrap.build(settings).db)


if __name__ == "__main__":
    main()
