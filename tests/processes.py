"""Start, SIGKILL and restart the project's processes and a private database, for tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from shared.config import Settings

ROOT = Path(__file__).resolve().parent.parent
FERRETDB = ROOT / ".cache" / "bin" / "ferretdb"


def environment(settings: Settings, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        SUPERVISION_JWT_SECRET=settings.jwt_secret,
        KAFKA_BOOTSTRAP_SERVERS=settings.kafka_bootstrap_servers,
        MONGODB_URI=settings.mongodb_uri,
        DATABASE_PREFIX=settings.database_prefix,
        KAFKA_TOPIC_PREFIX=settings.topic_prefix,
        WEBHOOK_ALLOWED_HOSTS=",".join(settings.webhook_allowed_hosts),
        WEBHOOK_RETRY_SCHEDULE=",".join(str(s) for s in settings.webhook_retry_schedule),
        REOPEN_DEADLINE_DAYS=str(settings.reopen_deadline_days),
        PYTHONUNBUFFERED="1",
    )
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(extra)
    return env


class Process:
    """One child process, its output kept in a log file for the failure message."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path):
        self.name, self.argv, self.env = name, argv, env
        self.log_path = log_dir / f"{name}.log"
        self.popen: subprocess.Popen | None = None

    def start(self) -> Process:
        log = self.log_path.open("ab")
        self.popen = subprocess.Popen(self.argv, env=self.env, cwd=ROOT, stdout=log,
                                      stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def kill(self) -> None:
        """SIGKILL: no cleanup, no commit, no goodbye."""
        if self.popen and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)

    def stop(self, timeout: float = 20) -> int | None:
        if self.popen and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.popen.returncode if self.popen else None

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def python_module(name: str, module: str, *args: str, env: dict[str, str],
                  log_dir: Path) -> Process:
    return Process(name, [sys.executable, "-m", module, *args], env, log_dir)


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A port nothing listens on, never one this test run has handed out before: the kernel may
    give a just-closed port again, and a system whose broker and web service got the same port
    fails to start."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


class PrivateDatabase:
    """A FerretDB of a test's own, which the test may stop and start again (state kept)."""

    def __init__(self, data_dir: Path, log_dir: Path):
        self.port = free_port()
        data_dir.mkdir(parents=True, exist_ok=True)
        (data_dir / "state").mkdir(exist_ok=True)
        self.uri = f"mongodb://127.0.0.1:{self.port}"
        self.process = Process("ferretdb", [
            str(FERRETDB), "--handler=sqlite", f"--sqlite-url=file:{data_dir}/",
            f"--listen-addr=127.0.0.1:{self.port}", f"--state-dir={data_dir / 'state'}",
            "--telemetry=disable", "--debug-addr=-", "--log-level=warn"], dict(os.environ), log_dir)

    def start(self) -> None:
        self.process.start()
        wait_for_port(self.port)

    def stop(self) -> None:
        self.process.kill()
