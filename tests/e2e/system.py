"""A whole local system of a test's own: the stack of `deploy/local/stack.sh` (Kafka, PostgreSQL,
FerretDB, Prometheus) in a state directory and on ports of its own, and the services started the
way `make run` starts them (`deploy/local/run.sh`). The test may take the broker or the database
away and bring it back, or SIGKILL everything at once and run it again on the same state."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import requests

from shared.auth import mint
from shared.config import Settings
from tests.processes import ROOT, Process, free_port

STACK = ROOT / "deploy" / "local" / "stack.sh"
RUN = ROOT / "deploy" / "local" / "run.sh"
SERVICES = ("issues", "inspections", "notifications")
PORTS = ("KAFKA_PORT", "KAFKA_CONTROLLER_PORT", "MONGO_PORT", "POSTGRES_PORT", "PROMETHEUS_PORT")


@dataclass
class LocalSystem:
    directory: Path
    env: dict[str, str]
    urls: dict[str, str]
    settings: Settings
    run: Process | None = None

    @classmethod
    def create(cls, base: Settings, **extra: str) -> LocalSystem:
        """A system to start, with ``extra`` added to the environment of its processes."""
        # Under the repository, not pytest's 0700 temporary directory: PostgreSQL runs as the
        # postgres user, who must reach its data directory.
        name = f"system-{uuid.uuid4().hex[:8]}"
        directory = ROOT / "var" / name
        directory.mkdir(parents=True)
        ports = {variable: str(free_port()) for variable in PORTS}
        binds = {service: f"127.0.0.1:{free_port()}" for service in SERVICES}
        # The web app's address too (run.sh refuses a taken port of any Procfile web process).
        web_bind = f"127.0.0.1:{free_port()}"
        env = dict(os.environ)
        for inherited in ("PROMETHEUS_MULTIPROC_DIR", "KAFKA_TOPIC_PREFIX", "DATABASE_PREFIX"):
            env.pop(inherited, None)
        env.update(
            ports, STACK_DIR=str(directory), DEMO_DATA="0", SYSTEM_UNDER_TEST=name,
            SUPERVISION_JWT_SECRET=base.jwt_secret,
            KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{ports['KAFKA_PORT']}",
            MONGODB_URI=f"mongodb://127.0.0.1:{ports['MONGO_PORT']}",
            WEBHOOK_ALLOWED_HOSTS="127.0.0.1", WEBHOOK_RETRY_SCHEDULE="0,1,1,2,4,8",
            WEB_CONCURRENCY="2", PYTHONUNBUFFERED="1", WEB_BIND=web_bind,
            **{f"{service.upper()}_BIND": bind for service, bind in binds.items()}, **extra)
        settings = Settings.from_env(env)
        return cls(directory, env, {s: f"http://{b}" for s, b in binds.items()}, settings)

    def token(self, role: str, county: str | None = None, sub: str | None = None) -> dict:
        subject = sub or f"{role}@{county or 'city'}"
        token = mint(self.settings.jwt_secret, sub=subject, role=role, county=county)
        return {"Authorization": f"Bearer {token}"}

    # --- the stack's components, through the project's own script ---------------------------
    def up(self, *components: str) -> None:
        self._stack("up", *components)

    def down(self, *components: str) -> None:
        self._stack("down", *components)

    def _stack(self, *argv: str) -> None:
        done = subprocess.run(["bash", str(STACK), *argv], env=self.env, cwd=ROOT,
                              capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, f"stack.sh {' '.join(argv)}:\n{done.stdout}\n{done.stderr}"

    # --- everything, as `make run` ------------------------------------------------------------
    def start(self, timeout: float = 180) -> None:
        """`deploy/local/run.sh`: the stack, then every service process; wait until each web
        service answers /readyz 200."""
        self.run = Process("run", ["bash", str(RUN)], self.env, self.directory).start()
        deadline = time.monotonic() + timeout
        waiting = list(SERVICES)
        while waiting:
            assert self.run.running(), f"run.sh exited:\n{self.run.tail(80)}"
            assert time.monotonic() < deadline, (
                f"{waiting} not ready after {timeout}s:\n{self.run.tail(80)}")
            if self.ready(waiting[0]):
                waiting.pop(0)
            else:
                time.sleep(0.3)

    def ready(self, service: str) -> bool:
        try:
            return requests.get(f"{self.urls[service]}/readyz", timeout=3).status_code == 200
        except requests.RequestException:
            return False

    def stop(self) -> None:
        """As Ctrl-C of `make run`: the services, then the stack, stop cleanly. TERM, which
        run.sh handles like INT: a shell started in the background (CI) ignores INT for good."""
        if self.run and self.run.running():
            os.kill(self.run.popen.pid, signal.SIGTERM)
            self.run.popen.wait(120)

    def crash(self) -> int:
        """SIGKILL every process of this system at once, the stack's included (the power goes
        off): answers how many were killed."""
        marker = f"SYSTEM_UNDER_TEST={self.env['SYSTEM_UNDER_TEST']}"
        victims = [pid for pid in _pids() if _carries(pid, marker)]
        victims += [pid for pid in _recorded_pids(self.directory) if pid not in victims]
        for pid in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self.run:
            self.run.popen.wait(10)
        deadline = time.monotonic() + 60
        while any(_alive(pid) for pid in victims):
            assert time.monotonic() < deadline, f"still there after SIGKILL: {victims}"
            time.sleep(0.1)
        return len(victims)

    def remove(self, keep_logs: Path | None = None) -> None:
        """Stop everything and delete the state, keeping the logs in ``keep_logs``."""
        self.stop()
        self.down()
        if keep_logs is not None:
            shutil.copytree(self.directory / "log", keep_logs / "log", dirs_exist_ok=True)
            shutil.copy2(self.directory / "run.log", keep_logs / "run.log")
        shutil.rmtree(self.directory, ignore_errors=True)

    def log(self, lines: int = 60) -> str:
        return self.run.tail(lines) if self.run else ""


def _pids() -> list[int]:
    return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]


def _carries(pid: int, marker: str) -> bool:
    try:
        return marker.encode() in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False


def _recorded_pids(directory: Path) -> list[int]:
    """The stack's components as their pid files record them (PostgreSQL's postmaster also in
    its data directory), in case one of them dropped the marker from its environment."""
    files = [*(directory / "run").glob("*.pid"), directory / "postgres" / "data" / "postmaster.pid"]
    pids = []
    for file in files:
        try:
            pids.append(int(file.read_text().split()[0]))
        except (OSError, ValueError, IndexError):
            continue
    return [pid for pid in pids if _alive(pid)]


def _alive(pid: int) -> bool:
    """Until the process is gone altogether: PostgreSQL refuses to start while the pid in its
    postmaster.pid names any process, a zombie waiting to be reaped included."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
