"""docker-compose.yml runs the same system as ``make run``: the same processes with the same
commands, the contract's ports, the topic bootstrap first, health-gated start order, and the
configuration every process reads."""

from __future__ import annotations

import re

import yaml

from tests.unit.deploy.deployment import (
    CONTRACT_PORTS,
    IMAGE,
    PROCFILE,
    ROOT,
    TOPIC_BOOTSTRAP,
    WEB_SERVICES,
    compose,
    is_web,
    known_variables,
    procfile,
    settings_variables,
    web_port,
)

# Settings.from_env variables that compose leaves at their defaults on purpose.
DEFAULTS_ON_PURPOSE = {
    "DATABASE_PREFIX",  # a prefix of its own is for tests; a deployment uses supervision_*
    "KAFKA_TOPIC_PREFIX",  # likewise: a deployment's topics are the contract's names
    "WEBHOOK_TIMEOUT_SECONDS",  # the contract's 10 s
    "DIVISIONS_DIR",  # the image installs the division codes where the default points
    # Tuning whose defaults suit a compose stack.
    "OVERDUE_SCAN_SECONDS", "FIGURES_GAUGE_SECONDS", "DELIVERY_CONCURRENCY",
    "DELIVERY_PER_SUBSCRIPTION",
    "DELIVERY_LEASE_SECONDS", "WEBHOOK_SECRET_GRACE_SECONDS", "DATABASE_GAUGES_SECONDS",
    "REQUEST_DATABASE_SECONDS",
    # gunicorn's: compose gives each web its bind by GUNICORN_CMD_ARGS; workers, threads and
    # the import timeout keep their defaults.
    "ISSUES_BIND", "INSPECTIONS_BIND", "NOTIFICATIONS_BIND", "WEB_BIND", "WEB_CONCURRENCY",
    "WEB_THREADS", "ISSUES_WORKER_TIMEOUT",
    # One process a pod only (deploy/k8s): compose's workers share their web's metrics
    # directory, and a static group membership id is one replica's, never a whole service's.
    "METRICS_PORT", "CONSUMER_INSTANCE_ID",
}
# Variables compose sets that no code of ours reads, and who reads them instead.
READ_BY_OTHERS = {"GUNICORN_CMD_ARGS"}  # gunicorn


def services() -> dict[str, dict]:
    return compose()["services"]


def app_services() -> dict[str, dict]:
    """The long-running processes built from the repository's image (not the topic bootstrap)."""
    return {name: s for name, s in services().items()
            if s.get("image") == IMAGE and s.get("command") != TOPIC_BOOTSTRAP}


def depends_on(name: str) -> dict[str, str]:
    """Every service ``name`` waits for, directly or through others, with its condition."""
    found: dict[str, str] = {}
    todo = [name]
    while todo:
        for other, how in (services()[todo.pop()].get("depends_on") or {}).items():
            if other not in found:
                found[other] = how["condition"]
                todo.append(other)
    return found


def brokers() -> dict[str, dict]:
    return {name: s for name, s in services().items() if s.get("image", "").startswith(
        "apache/kafka:")}


def published(service: str) -> set[int]:
    return {int(str(p).split(":")[0]) for p in services()[service].get("ports", [])}


def test_compose_runs_every_process_of_make_run_with_the_same_command():
    commands = {name: s["command"] for name, s in app_services().items()}
    assert commands == procfile()


def test_web_services_listen_and_are_published_on_the_contract_ports():
    for service in WEB_SERVICES:
        port = CONTRACT_PORTS[service]
        assert web_port(service) == port, f"services/{service}/gunicorn.conf.py"
        spec = services()[service]
        assert is_web(spec["command"])
        assert published(service) == {port}
        assert spec["environment"]["GUNICORN_CMD_ARGS"] == f"--bind 0.0.0.0:{port}"


def test_infrastructure_is_published_on_the_contract_ports():
    for service in ("kafka", "mongo", "prometheus", "grafana"):
        assert CONTRACT_PORTS[service] in published(service), service


def test_a_web_service_is_healthy_only_once_its_database_and_kafka_answer():
    for service in WEB_SERVICES:
        probe = " ".join(services()[service]["healthcheck"]["test"])
        assert f"127.0.0.1:{CONTRACT_PORTS[service]}/readyz" in probe, service


def test_topics_are_created_by_the_same_bootstrap_as_the_local_stack_before_anything_runs():
    topics = services()["topics"]
    assert topics["command"] == TOPIC_BOOTSTRAP
    assert topics["restart"] == "no"  # a one-shot job; service_completed_successfully waits
    assert depends_on("topics") == dict.fromkeys(brokers(), "service_healthy")
    stack = (ROOT / "deploy" / "local" / "stack.sh").read_text()
    assert " ".join(TOPIC_BOOTSTRAP[1:]) in stack


def test_every_process_starts_after_the_topics_exist_and_the_database_is_healthy():
    for name in app_services():
        waits_for = depends_on(name)
        assert waits_for.get("topics") == "service_completed_successfully", name
        assert waits_for.get("mongo") == "service_healthy", name
        assert waits_for.get("kafka") == "service_healthy", name


def test_every_wait_for_health_names_a_service_with_a_health_check():
    for name in services():
        for other, condition in depends_on(name).items():
            if condition == "service_healthy":
                assert "healthcheck" in services()[other], f"{name} waits for {other}"


def test_workers_start_after_their_web_service_and_add_to_its_metrics():
    volumes: dict[str, str] = {}
    for name, spec in app_services().items():
        service = name.split("-")[0]
        multiproc_dir = spec["environment"]["PROMETHEUS_MULTIPROC_DIR"]
        [volume] = [v.split(":")[0] for v in spec["volumes"] if v.split(":")[1] == multiproc_dir]
        assert volumes.setdefault(service, volume) == volume, f"{name} has a directory of its own"
        if name != service:
            assert depends_on(name)[service] == "service_healthy"
            # Distinct pids, so the multiprocess files of the service's processes never clash.
            assert spec["pid"] == f"service:{service}"
    assert sorted(volumes) == sorted(WEB_SERVICES)
    assert len(set(volumes.values())) == len(WEB_SERVICES), "services must not share metrics"


def test_every_process_gets_every_setting_that_matters():
    wanted = settings_variables() - DEFAULTS_ON_PURPOSE
    for name, spec in app_services().items():
        missing = wanted - set(spec["environment"])
        assert not missing, f"{name} lacks {missing}"


def test_compose_sets_no_variable_that_nothing_reads():
    for name, spec in services().items():
        if spec.get("image") == IMAGE:
            unknown = set(spec["environment"]) - known_variables() - READ_BY_OTHERS
            assert not unknown, f"{name}: {unknown}"


def test_processes_reach_kafka_and_mongo_at_the_addresses_compose_gives_them():
    env = next(iter(app_services().values()))["environment"]
    for server in env["KAFKA_BOOTSTRAP_SERVERS"].split(","):
        host, port = server.split(":")
        kafka = services()[host]["environment"]
        assert re.search(rf"//{host}:{port}\b", kafka["KAFKA_ADVERTISED_LISTENERS"])
        assert re.search(rf"://:{port}\b", kafka["KAFKA_LISTENERS"])
        assert kafka["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"  # topics from the bootstrap
    assert env["MONGODB_URI"] == f"mongodb://mongo:{CONTRACT_PORTS['mongo']}"


def test_kafka_runs_the_version_the_local_stack_pins():
    versions = (ROOT / "deploy" / "local" / "versions.env").read_text()
    pinned = re.search(r"^KAFKA_VERSION=(\S+)", versions, re.M).group(1)
    assert services()["kafka"]["image"] == f"apache/kafka:{pinned}"


def test_prometheus_scrapes_each_web_service_where_compose_runs_it():
    mounted = {v.split(":")[1]: v.split(":")[0] for v in services()["prometheus"]["volumes"]}
    config = yaml.safe_load((ROOT / mounted["/etc/prometheus/prometheus.yml"]).read_text())
    targets = {job["job_name"]: job["static_configs"][0]["targets"]
               for job in config["scrape_configs"]}
    for service in WEB_SERVICES:
        assert targets[service] == [f"{service}:{CONTRACT_PORTS[service]}"]


def test_every_file_compose_mounts_or_builds_from_is_in_the_repository():
    for name, spec in services().items():
        for volume in spec.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name}: {source}"
            else:
                assert source in compose()["volumes"], f"{name}: undeclared volume {source}"
    assert (ROOT / "Dockerfile").exists()


def test_three_brokers_keep_three_replicas_of_every_topic_two_in_sync_for_a_write():
    kafka = brokers()
    assert len(kafka) == 3
    envs = [spec["environment"] for spec in kafka.values()]
    assert sorted(int(e["KAFKA_NODE_ID"]) for e in envs) == [1, 2, 3]
    voters = {f"{e['KAFKA_NODE_ID']}@{name}:9093" for name, e in zip(kafka, envs, strict=True)}
    for env in envs:
        assert set(env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")) == voters
        assert len({env["CLUSTER_ID"] for env in envs}) == 1
        assert int(env["KAFKA_DEFAULT_REPLICATION_FACTOR"]) == 3
        assert int(env["KAFKA_MIN_INSYNC_REPLICAS"]) == 2
        assert int(env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"]) == 3
        assert env["KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE"] == "false"
    # Each broker its own disk and its own host port.
    volumes = [spec["volumes"][0].split(":")[0] for spec in kafka.values()]
    assert len(set(volumes)) == 3
    assert len({port for name in kafka for port in published(name)}) == 3


def test_the_services_reach_every_broker_and_write_with_the_production_settings():
    kafka = brokers()
    for name, spec in app_services().items():
        env = spec["environment"]
        hosts = {server.split(":")[0] for server in env["KAFKA_BOOTSTRAP_SERVERS"].split(",")}
        assert hosts == set(kafka), name
        assert env["KAFKA_REPLICATION_FACTOR"] == "${KAFKA_REPLICATION_FACTOR:-3}", name
        assert env["KAFKA_MIN_INSYNC_REPLICAS"] == "${KAFKA_MIN_INSYNC_REPLICAS:-2}", name
        assert env["KAFKA_ACKS"] == "${KAFKA_ACKS:-all}", name
    assert services()["topics"]["environment"]["KAFKA_REPLICATION_FACTOR"].endswith(":-3}")


def test_every_procfile_line_execs_its_program_so_that_signals_reach_it():
    # honcho runs each line with /bin/sh -c; without exec the shell stays between honcho and
    # the program, and a signal to the shell does not reach the service.
    for line in PROCFILE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            assert line.split(":", 1)[1].split()[0] == "exec", line
