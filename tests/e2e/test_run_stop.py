"""`make run` (deploy/local/run.sh, on a terminal of the test's own) stops everything it started
whatever stops it: Ctrl-C at several moments, TERM, a closed terminal, a SIGKILL of the script
and its process group. Each time no process of the run remains and none of its ports is bound.
A second run whose service port is taken refuses at once and names the holder. A stack that
`make up` started before the run stays up when the run stops."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import termios
import threading
import time
import uuid
from pathlib import Path

import pytest

from tests.e2e.system import PORTS, RUN, SERVICES, STACK
from tests.processes import ROOT, free_port

pytestmark = pytest.mark.e2e


class Terminal:
    """run.sh as a person starts it: session leader of a pseudo-terminal, its console read
    here. Ctrl-C is the terminal's ^C; closing the terminal hangs it up."""

    def __init__(self, env: dict[str, str], log: Path):
        self.master, slave = os.openpty()
        self.output = ""
        self.lock = threading.Lock()
        self.log = log
        self.popen = subprocess.Popen(
            ["bash", str(RUN)], env=env, cwd=ROOT, stdin=slave, stdout=slave, stderr=slave,
            start_new_session=True, preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
        os.close(slave)
        self.closing = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        # Never blocked in read() when the terminal closes: a read in progress would keep the
        # master open, and the terminal would not hang up.
        while not self.closing.is_set():
            if not select.select([self.master], [], [], 0.05)[0]:
                continue
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                break
            if not chunk:
                break
            text = chunk.decode("utf-8", "replace").replace("\r\n", "\n")
            with self.lock:
                self.output += text
            with self.log.open("a", encoding="utf-8") as log:
                log.write(text)

    def wait_for(self, pattern: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.output, re.M):
            assert self.popen.poll() is None, f"run.sh exited before {pattern!r}:\n{self.output}"
            assert time.monotonic() < deadline, f"no {pattern!r} after {timeout} s:\n{self.output}"
            time.sleep(0.05)

    def ctrl_c(self) -> None:
        os.write(self.master, b"\x03")

    def close(self) -> None:
        """Close the terminal (its last reference: the session leader gets SIGHUP) and wait
        until run.sh has stopped, so that the next run finds the state directory at rest."""
        if not self.closing.is_set():
            self.closing.set()
            self.reader.join()
            os.close(self.master)
        self.popen.wait(120)


def marked(marker: str) -> list[int]:
    wanted = marker.encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if wanted in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
    return found


def listening(ports: set[int]) -> set[int]:
    out = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True, check=True).stdout
    bound = {int(line.split()[3].rsplit(":", 1)[1]) for line in out.splitlines() if line.split()}
    return bound & ports


@pytest.fixture(scope="module")
def stack_dir(tmp_path_factory):
    """One state directory and one set of ports for the runs of this module: Kafka's storage
    formatted and PostgreSQL's cluster made once, by a stack start and stop of its own."""
    directory = ROOT / "var" / f"run-stop-{uuid.uuid4().hex[:8]}"
    directory.mkdir(parents=True)
    env = base_env(directory)
    done = subprocess.run(["bash", str(STACK), "up"], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=240)
    subprocess.run(["bash", str(STACK), "down"], env=env, cwd=ROOT, capture_output=True,
                   timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    yield directory, env
    subprocess.run(["bash", str(STACK), "down"], env=env, cwd=ROOT, capture_output=True,
                   timeout=120)
    shutil.copytree(directory / "log", tmp_path_factory.mktemp("run-stop-logs"),
                    dirs_exist_ok=True)
    shutil.rmtree(directory, ignore_errors=True)


def base_env(directory: Path) -> dict[str, str]:
    env = dict(os.environ)
    for inherited in ("PROMETHEUS_MULTIPROC_DIR", "KAFKA_TOPIC_PREFIX", "DATABASE_PREFIX",
                      "KAFKA_BOOTSTRAP_SERVERS", "MONGODB_URI"):
        env.pop(inherited, None)
    env.update({variable: str(free_port()) for variable in PORTS})
    env.update({f"{service.upper()}_BIND": f"127.0.0.1:{free_port()}"
                for service in (*SERVICES, "web")})
    env.update(STACK_DIR=str(directory), DEMO_DATA="0", WEB_CONCURRENCY="1",
               PYTHONUNBUFFERED="1")
    return env


def ports_of(env: dict[str, str]) -> set[int]:
    return ({int(env[variable]) for variable in PORTS}
            | {int(env[f"{service.upper()}_BIND"].rsplit(":", 1)[1]) for service in SERVICES})


def start(env: dict[str, str], tmp_path: Path, **extra: str) -> tuple[Terminal, str]:
    marker = f"RUN_STOP_CASE={uuid.uuid4().hex}"
    name, value = marker.split("=")
    return Terminal({**env, **extra, name: value}, tmp_path / "console.log"), marker


def assert_nothing_left(marker: str, env: dict[str, str], console: str) -> None:
    left = marked(marker)
    bound = listening(ports_of(env))
    assert not left, f"processes of the run left: {describe(left)}\n{console}"
    assert not bound, f"ports still bound: {bound}\n{console}"


def describe(pids: list[int]) -> list[str]:
    names = []
    for pid in pids:
        with contextlib.suppress(OSError):
            names.append(f"{pid} " + Path(f"/proc/{pid}/cmdline").read_bytes()
                         .replace(b"\0", b" ").decode()[:120])
    return names


def stopped(terminal: Terminal, began: float, how: str) -> float:
    terminal.popen.wait(120)
    seconds = time.monotonic() - began
    print(f"\nmake run stopped by {how}: {seconds:.1f} s", file=sys.stderr)
    return seconds


# Ctrl-C at the moments named by the console: the first line (the stack not up yet), the
# Procfile's processes just started, every web service ready.
@pytest.mark.parametrize("moment, line", [
    ("right after the first line", r"^==> make run:"),
    ("as the services start", r"^==> started \d+ processes"),
    ("just after ready", r"^==> ready in"),
])
def test_ctrl_c_stops_everything(stack_dir, tmp_path, moment, line):
    directory, env = stack_dir
    terminal, marker = start(env, tmp_path)
    try:
        terminal.wait_for(line)
        began = time.monotonic()
        terminal.ctrl_c()
        stopped(terminal, began, f"Ctrl-C {moment}")
        assert_nothing_left(marker, env, terminal.output)
        assert "==> stopped in" in terminal.output
        assert terminal.popen.returncode == 130
    finally:
        terminal.close()


def test_ctrl_c_during_the_demo_load_stops_everything(stack_dir, tmp_path):
    directory, env = stack_dir
    # An empty database of its own, so that the demo city is loaded, not skipped; every 10th
    # item only, so that the load is under way for seconds, not minutes.
    terminal, marker = start(env, tmp_path, DEMO_DATA="1", DEMO_EVERY="10",
                             DATABASE_PREFIX=f"demo{uuid.uuid4().hex[:8]}")
    try:
        terminal.wait_for(r"^demo: .*33060\d: \d+ items imported")
        began = time.monotonic()
        terminal.ctrl_c()
        stopped(terminal, began, "Ctrl-C during the demo load")
        assert_nothing_left(marker, env, terminal.output)
        assert "完成 done" not in terminal.output  # it was stopped, not finished
    finally:
        terminal.close()


def test_a_stack_that_make_up_started_stays_up_when_the_run_stops(stack_dir, tmp_path):
    directory, env = stack_dir
    up = subprocess.run(["bash", str(STACK), "up"], env=env, cwd=ROOT, capture_output=True,
                        text=True, timeout=240)
    assert up.returncode == 0, up.stdout + up.stderr
    terminal, marker = start(env, tmp_path)
    try:
        terminal.wait_for(r"^==> ready in")
        began = time.monotonic()
        terminal.ctrl_c()
        stopped(terminal, began, "Ctrl-C beside a stack of make up")
        assert "left running when this run stops" in terminal.output
        service_ports = {int(env[f"{s.upper()}_BIND"].rsplit(":", 1)[1]) for s in SERVICES}
        assert not listening(service_ports), terminal.output
        assert not [pid for pid in marked(marker)], describe(marked(marker))
        status = subprocess.run(["bash", str(STACK), "status"], env=env, cwd=ROOT,
                                capture_output=True, text=True, timeout=60)
        assert status.returncode == 0, f"the stack did not stay up:\n{status.stdout}"
    finally:
        terminal.close()
        subprocess.run(["bash", str(STACK), "down"], env=env, cwd=ROOT, capture_output=True,
                       timeout=120)
    assert not listening(ports_of(env))


def test_term_stops_everything_and_a_second_run_refuses_the_taken_port(stack_dir, tmp_path):
    directory, env = stack_dir
    terminal, marker = start(env, tmp_path)
    other_dir = ROOT / "var" / f"run-stop-{uuid.uuid4().hex[:8]}"
    try:
        terminal.wait_for(r"^==> ready in")
        # The same service addresses, another stack: it must not start anything at all.
        other = {**base_env(other_dir), **{f"{s.upper()}_BIND": env[f"{s.upper()}_BIND"]
                                           for s in SERVICES}}
        second = subprocess.run(["bash", str(RUN)], env=other, cwd=ROOT, capture_output=True,
                                text=True, timeout=60)
        assert second.returncode != 0
        port = env["ISSUES_BIND"].rsplit(":", 1)[1]
        match = re.search(rf"port {port} is already in use by .*?pid=(\d+)", second.stderr)
        assert match, second.stdout + second.stderr
        assert f"{marker}".encode() in Path(f"/proc/{match.group(1)}/environ").read_bytes()
        assert not other_dir.exists(), "the refused run started something"

        began = time.monotonic()
        os.kill(terminal.popen.pid, signal.SIGTERM)
        stopped(terminal, began, "TERM")
        assert_nothing_left(marker, env, terminal.output)
        assert terminal.popen.returncode == 143
    finally:
        terminal.close()
        shutil.rmtree(other_dir, ignore_errors=True)


def test_a_port_taken_by_another_program_is_refused_with_its_name(stack_dir, tmp_path):
    directory, stack_env = stack_dir
    # A port of its own: the runs before left the module's ports in TIME_WAIT.
    port = free_port()
    env = {**stack_env, "NOTIFICATIONS_BIND": f"127.0.0.1:{port}"}
    holder = subprocess.Popen([sys.executable, "-c", (
        "import socket, time\n"
        f"s = socket.socket(); s.bind(('127.0.0.1', {port})); s.listen(); time.sleep(120)")])
    try:
        deadline = time.monotonic() + 10
        while not listening({port}):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        refused = subprocess.run(["bash", str(RUN)], env=env, cwd=ROOT, capture_output=True,
                                 text=True, timeout=60)
        assert refused.returncode != 0
        assert re.search(rf'cannot start notifications: port {port} is already in use by '
                         rf'.*"python[\d.]*",pid={holder.pid}\b', refused.stderr), refused.stderr
        assert "NOTIFICATIONS_BIND" in refused.stderr
        assert not (directory / "run" / "kafka.pid").exists()
    finally:
        holder.kill()
        holder.wait()


def test_a_closed_terminal_stops_everything(stack_dir, tmp_path):
    directory, env = stack_dir
    terminal, marker = start(env, tmp_path)
    terminal.wait_for(r"^==> ready in")
    began = time.monotonic()
    terminal.close()  # the hang-up: run.sh gets SIGHUP, the console answers EIO from now on
    stopped(terminal, began, "a closed terminal (SIGHUP)")
    assert_nothing_left(marker, env, terminal.output)
    assert "==> stopped in" in (directory / "log" / "supervisor.log").read_text()


def test_sigkill_of_the_script_and_its_process_group_stops_everything(stack_dir, tmp_path):
    directory, env = stack_dir
    terminal, marker = start(env, tmp_path)
    try:
        terminal.wait_for(r"^==> ready in")
        began = time.monotonic()
        os.killpg(terminal.popen.pid, signal.SIGKILL)  # run.sh leads its process group
        terminal.popen.wait(10)
        deadline = time.monotonic() + 120
        while marked(marker) or listening(ports_of(env)):
            assert time.monotonic() < deadline, describe(marked(marker))
            time.sleep(0.1)
        print(f"\nmake run stopped by SIGKILL of its group: {time.monotonic() - began:.1f} s "
              "until no process and no port is left", file=sys.stderr)
        assert_nothing_left(marker, env, terminal.output)
    finally:
        terminal.close()
