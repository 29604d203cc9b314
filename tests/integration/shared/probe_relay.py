"""The probe service's relay entry point, as each service has its own (services.*.relay)."""

from shared import mongo
from shared.outbox import run_relay
from tests.integration.shared.probe import SERVICE

if __name__ == "__main__":
    run_relay(SERVICE, lambda settings: mongo.database(settings, SERVICE))
