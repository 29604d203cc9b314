"""The end-to-end harness: every service and worker as its own process, on the real broker and
database, started once for the session and able to kill and restart any of them."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from shared.auth import mint
from shared.config import Settings
from shared.kafka import ensure_topics
from tests.e2e.system import LocalSystem
from tests.processes import ROOT, Process, environment, free_port, python_module
from tests.support import eventually

GUNICORN = str(Path(sys.executable).parent / "gunicorn")
WEB = ("issues", "inspections", "notifications")
WORKERS = {
    "issues-consumer": ("issues", "services.issues.consumer", ()),
    "issues-relay": ("issues", "services.issues.relay", ()),
    "issues-scheduler": ("issues", "services.issues.scheduler", ()),
    "issues-figures": ("issues", "services.issues.figures", ()),
    "inspections-consumer": ("inspections", "services.inspections.consumer", ()),
    "inspections-relay": ("inspections", "services.inspections.relay", ()),
    "notifications-consumer": ("notifications", "services.notifications.consumer", ()),
    "notifications-dispatcher": ("notifications", "services.notifications.dispatcher", ()),
}


@dataclass
class Stack:
    settings: Settings
    urls: dict[str, str]
    processes: dict[str, Process] = field(default_factory=dict)

    def token(self, role: str, county: str | None = None, sub: str | None = None) -> dict:
        subject = sub or f"{role}@{county or 'city'}"
        token = mint(self.settings.jwt_secret, sub=subject, role=role, county=county)
        return {"Authorization": f"Bearer {token}"}

    def kill(self, name: str) -> None:
        self.processes[name].kill()

    def start(self, name: str) -> None:
        self.processes[name].start()
        if name in self.urls:
            wait_ready(self.urls[name], self.processes[name])

    def restart(self, name: str) -> None:
        self.kill(name)
        self.start(name)

    def stop(self) -> None:
        for process in self.processes.values():
            process.stop()

    def instance(self, suffix: str) -> Stack:
        """The same stack, its requests sent to the web instances named ``<service><suffix>``."""
        return dataclasses.replace(self, urls={s: self.urls[s + suffix] for s in WEB})


def wait_ready(url: str, process: Process, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    reason = "no answer"
    while time.monotonic() < deadline:
        if not process.running():
            raise RuntimeError(f"{process.name} exited:\n{process.tail()}")
        try:
            answer = requests.get(f"{url}/readyz", timeout=2)
            if answer.status_code == 200:
                return
            reason = answer.text
        except requests.RequestException as exc:
            reason = str(exc)
        time.sleep(0.2)
    raise RuntimeError(f"{process.name} not ready after {timeout}s: {reason}\n{process.tail()}")


def launch(settings: Settings, logs: Path, metrics: Path, *, replicas: int = 1) -> Stack:
    """Start ``replicas`` instances of every web service and worker (the second of each named
    ``<name>#2``, its URL under that name too), each instance of a worker in the same consumer
    group or lease as the first; wait until every web instance is ready."""
    ports = {service: [free_port() for _ in range(replicas)] for service in WEB}
    stack = Stack(settings, {})

    def env_for(service: str) -> dict[str, str]:
        directory = metrics / service
        directory.mkdir(exist_ok=True)
        return environment(settings, PROMETHEUS_MULTIPROC_DIR=str(directory),
                           OVERDUE_SCAN_SECONDS="2", WEB_CONCURRENCY="2",
                           DELIVERY_LEASE_SECONDS="10", DATABASE_GAUGES_SECONDS="5")

    for replica in range(1, replicas + 1):
        suffix = "" if replica == 1 else f"#{replica}"
        for service in WEB:
            port = ports[service][replica - 1]
            stack.urls[service + suffix] = f"http://127.0.0.1:{port}"
            stack.processes[service + suffix] = Process(service + suffix, [
                GUNICORN, "-c", str(ROOT / "services" / service / "gunicorn.conf.py"),
                "-b", f"127.0.0.1:{port}", f"services.{service}.app:create_app()"],
                env_for(service), logs)
        for name, (service, module, args) in WORKERS.items():
            stack.processes[name + suffix] = python_module(
                name + suffix, module, *args, env=env_for(service), log_dir=logs)
    try:
        for process in stack.processes.values():
            process.start()
        for name, url in stack.urls.items():
            wait_ready(url, stack.processes[name])
    except BaseException:
        stack.stop()
        raise
    return stack


@pytest.fixture(scope="session")
def stack(base_settings: Settings, tmp_path_factory) -> Stack:
    run = uuid.uuid4().hex[:8]
    settings = dataclasses.replace(
        base_settings, database_prefix=f"e2e{run}", topic_prefix=f"e2e{run}.",
        webhook_allowed_hosts=("127.0.0.1",), webhook_retry_schedule=(0, 1, 1, 2))
    ensure_topics(settings, partitions=3)
    stack = launch(settings, tmp_path_factory.mktemp("e2e-logs"),
                   tmp_path_factory.mktemp("e2e-metrics"))
    try:
        yield stack
    finally:
        stack.stop()


@dataclass
class Prometheus:
    """A Prometheus of the test session's own, scraping the services of ``stack``."""

    url: str
    process: Process

    def api(self, path: str, **params: str) -> dict | list:
        answer = requests.get(f"{self.url}/api/v1/{path}", params=params, timeout=10)
        body = answer.json()
        assert answer.status_code == 200 and body["status"] == "success", (path, params, body)
        return body["data"]

    def query(self, expr: str) -> list[dict]:
        return self.api("query", query=expr)["result"]

    def ready(self) -> bool:
        assert self.process.running(), f"prometheus exited:\n{self.process.tail()}"
        try:
            return requests.get(f"{self.url}/-/ready", timeout=2).status_code == 200
        except requests.RequestException:
            return False


@pytest.fixture(scope="session")
def prometheus(stack: Stack, tmp_path_factory) -> Prometheus:
    """The `prometheus` binary on PATH (Debian's package, deploy/local/install.sh), on a free
    port, scraping the three services every second and evaluating the project's rules."""
    binary = shutil.which("prometheus")
    assert binary, "prometheus not found on PATH: run deploy/local/install.sh (make install)"
    directory = tmp_path_factory.mktemp("prometheus")
    config = {  # JSON is YAML
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(ROOT / "deploy" / "prometheus" / "rules" / "supervision.yml")],
        "scrape_configs": [
            {"job_name": service, "static_configs": [{"targets": [url.removeprefix("http://")]}]}
            for service, url in stack.urls.items()],
    }
    (directory / "prometheus.yml").write_text(json.dumps(config, indent=2))
    port = free_port()
    process = Process("prometheus", [
        binary, f"--config.file={directory / 'prometheus.yml'}",
        f"--storage.tsdb.path={directory / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
        dict(os.environ), directory)
    prometheus = Prometheus(f"http://127.0.0.1:{port}", process)
    process.start()
    try:
        eventually(prometheus.ready, timeout=30, message="the private Prometheus is not ready")
        yield prometheus
    finally:
        process.stop()


@pytest.fixture(scope="module")
def system(request, base_settings: Settings, tmp_path_factory) -> LocalSystem:
    """A whole local system of the module's own (tests/e2e/system.py), started as `make run`
    starts one, with the module's ``SYSTEM_ENV`` in its environment. Every process's log
    outlives it, in pytest's temporary directory."""
    system = LocalSystem.create(base_settings, **getattr(request.module, "SYSTEM_ENV", {}))
    logs = tmp_path_factory.mktemp(f"{request.module.__name__.rpartition('.')[2]}-logs")
    try:
        system.start()
        yield system
    finally:
        system.remove(keep_logs=logs)


@pytest.fixture(scope="session")
def issues_url(stack: Stack) -> str:
    """The e2e issues service, with every 40th item of the demo city loaded through its API."""
    loader = subprocess.run(
        [sys.executable, "-m", "tools.demo.load", "--issues", stack.urls["issues"],
         "--every", "40"], env=environment(stack.settings), cwd=ROOT, capture_output=True,
        text=True, timeout=600)
    assert loader.returncode == 0, f"the demo loader failed:\n{loader.stdout}\n{loader.stderr}"
    return stack.urls["issues"]
