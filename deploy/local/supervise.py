"""The supervisor of `make run` (deploy/local/run.sh starts it; do not run it by hand).

It starts the local stack (stack.sh up), then every process of deploy/local/Procfile with
honcho's process manager, waits until each web service answers /readyz, prints the URLs and
loads the demo city. On TERM, INT or HUP, or when run.sh dies in any way (PR_SET_PDEATHSIG, so
a SIGKILL of run.sh counts), it stops the Procfile's processes, then the components of the stack
it started (those `make up` started before stay up), then whatever else still carries the run's
marker, and only then exits.

Why a process of its own: every process of the run inherits the marker SUPERVISION_RUN from
run.sh, so the stop finds them all, whoever their parent is now (the stack's components detach
into sessions of their own; a Procfile process orphaned by a dead manager has parent 1). The
supervisor runs in a session of its own: a Ctrl-C at the terminal, a hang-up or a SIGKILL of
make's process group reaches run.sh, never the supervisor in the middle of its stop.

The console gets the readiness of each component, the URLs, the demo load's lines, and the
warnings and errors of every process in words; each process's full output (JSON logs) goes to
$STACK_DIR/log/<process>.log, which `make logs` follows.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import requests
from honcho.environ import parse_procfile
from honcho.manager import Manager

ROOT = Path(__file__).resolve().parents[2]
LOCAL = ROOT / "deploy" / "local"
PR_SET_PDEATHSIG = 1
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
COMPONENTS = ("kafka", "postgres", "ferretdb", "prometheus")  # the stack's (stack.sh)
# Seconds a process has between TERM and KILL when the run stops (gunicorn's graceful stop
# waits for its requests; a feed long-poll would hold it for 30 s).
GRACE = 10
# gunicorn's own log lines: "[2026-12-01 21:00:00 +0000] [123] [INFO] Booting worker ...".
GUNICORN_LINE = re.compile(r"^\[[^]]+\] \[\d+\] \[([A-Z]+)\] (.*)$")
LOUD = {"WARNING": "warning", "ERROR": "error", "CRITICAL": "error"}
# A process that fails the same way again and again (a consumer retrying a record) shows the
# message once per this many seconds, with how many like it were left out.
REPEAT_SECONDS = 30


class Stop(Exception):
    """A stop signal arrived."""


def _raise_stop(signum, frame):
    raise Stop(signal.Signals(signum).name)


class Console:
    """The terminal of `make run`. Once it is gone (a closed terminal answers EIO, a closed pipe
    EPIPE), lines go to the supervisor's log only and the run goes on to its clean stop."""

    def __init__(self, log: Path):
        self.lock = threading.Lock()
        self.open = True
        self.log = log.open("a", encoding="utf-8")

    def say(self, text: str) -> None:
        with self.lock:
            self.log.write(f"{datetime.now():%H:%M:%S} {text}\n")
            self.log.flush()
            if not self.open:
                return
            try:
                os.write(1, f"{text}\n".encode())
            except OSError:
                self.open = False

    def note(self, text: str) -> None:
        """For the supervisor's log only."""
        with self.lock:
            self.log.write(f"{datetime.now():%H:%M:%S} {text}\n")
            self.log.flush()


def in_words(line: str) -> tuple[str, str] | None:
    """(level, message) of a log line worth showing on the console, else None.

    JSON records (shared/logging.py) and gunicorn's own lines show from WARNING up; a line in
    neither form (a traceback, a crash before logging was set up) always shows."""
    line = line.rstrip()
    if not line:
        return None
    try:
        record = json.loads(line)
    except ValueError:
        record = None
    if isinstance(record, dict) and "level" in record:
        level = LOUD.get(str(record["level"]).upper())
        if level is None:
            return None
        message = str(record.get("message", ""))
        if record.get("exc_info"):
            message += f" ({str(record['exc_info']).strip().splitlines()[-1]})"
        return level, message
    if match := GUNICORN_LINE.match(line):
        level = LOUD.get(match.group(1))
        return (level, match.group(2)) if level else None
    return "output", line


class Repeats:
    """Leaves out a console line shown less than REPEAT_SECONDS ago, and says how many it left
    out the next time the line shows."""

    def __init__(self):
        self.shown: dict[str, float] = {}
        self.left_out: dict[str, int] = {}

    def show(self, line: str, now: float) -> str | None:
        if now - self.shown.get(line, -REPEAT_SECONDS) < REPEAT_SECONDS:
            self.left_out[line] = self.left_out.get(line, 0) + 1
            return None
        self.shown[line] = now
        if count := self.left_out.pop(line, 0):
            return f"{line} (and {count} more like it)"
        return line


class ProcessLogs:
    """honcho's printer: every line of a process to its log file, the loud ones to the console."""

    def __init__(self, console: Console, log_dir: Path, started):
        self.console = console
        self.log_dir = log_dir
        self.files: dict[str, object] = {}
        self.width = 0  # honcho sets it; the console does not pad
        self.started = started  # called with {name: pid} once honcho started every process
        self.pids: dict[str, int] = {}
        self.expected = 0
        self.armed = False
        self.repeats = Repeats()

    def file(self, name: str):
        if name not in self.files:
            self.files[name] = (self.log_dir / f"{name}.log").open("ab")
        return self.files[name]

    def write(self, message) -> None:
        # honcho's loop() answers TERM and INT with a stop of its processes alone; the first
        # message it hands over puts back the supervisor's stop, which covers everything.
        if not self.armed:
            for signum in STOP_SIGNALS:
                signal.signal(signum, _raise_stop)
            self.armed = True
        if message.name == "system":
            self.system(message.data)
            return
        data = message.data if isinstance(message.data, bytes) else message.data.encode()
        out = self.file(message.name)
        out.write(data)
        out.flush()
        shown = in_words(data.decode("utf-8", "replace"))
        if shown:
            level, text = shown
            prefix = f"{message.name}:" if level == "output" else f"{message.name}: {level}:"
            line = self.repeats.show(f"{prefix} {text}", time.monotonic())
            if line:
                self.console.say(f"{message.time:%H:%M:%S} {line}")

    def system(self, text: str) -> None:
        text = text.strip()
        self.console.note(f"honcho: {text}")
        if match := re.fullmatch(r"(\S+) started \(pid=(\d+)\)", text):
            self.pids[match.group(1)] = int(match.group(2))
            if len(self.pids) == self.expected:
                self.started(dict(self.pids))
        elif match := re.fullmatch(r"(\S+) stopped \(rc=(-?\d+)\)", text):
            name, rc = match.group(1), int(match.group(2))
            if not stopping.is_set():
                self.console.say(
                    f"error: {name} exited (rc={rc}), so the run stops; see "
                    f"{rel(self.log_dir / f'{name}.log')}")
                stopping.set()


stopping = threading.Event()


def rel(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.relative_to(ROOT))
    return str(path)


def die_with(parent: int) -> None:
    """TERM to this process when ``parent`` (run.sh) dies, however it dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")
    if os.getppid() != parent:  # it died before the line above
        os.kill(os.getpid(), signal.SIGTERM)


# --- the processes of the run ---------------------------------------------------------------
def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def marked(marker: str) -> set[int]:
    """Live processes carrying the run's marker, this one excepted."""
    wanted = marker.encode()
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if wanted in (entry / "environ").read_bytes().split(b"\0"):
                found.add(int(entry.name))
    return found


def stack_components(stack_dir: Path) -> set[int]:
    """The stack's components as their pid files record them (stack.sh stops those)."""
    files = [*(stack_dir / "run").glob("*.pid"), stack_dir / "postgres" / "data" / "postmaster.pid"]
    pids = set()
    for file in files:
        with contextlib.suppress(OSError, ValueError, IndexError):
            pids.add(int(file.read_text().split()[0]))
    return pids


def within(pid: int, roots: set[int]) -> bool:
    """Whether ``pid`` is one of ``roots`` or a descendant of one (a PostgreSQL backend)."""
    seen = 0
    while pid and pid > 1 and seen < 64:
        if pid in roots:
            return True
        pid = _parent(pid) or 0
        seen += 1
    return False


def end(pids_now, console: Console, what: str) -> None:
    """TERM to the processes ``pids_now()`` answers, KILL to those left after GRACE s."""
    pids = pids_now()
    if not pids:
        return
    console.note(f"TERM to {what}: {sorted(pids)}")
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + GRACE
    while (pids := pids_now()) and time.monotonic() < deadline:
        time.sleep(0.1)
    if pids:
        console.say(f"warning: {len(pids)} {what} still running after {GRACE} s; killing them")
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while pids_now() and time.monotonic() < deadline:
            time.sleep(0.1)


def running_components() -> set[str]:
    """The stack's components running now, as `stack.sh status` sees them."""
    status = subprocess.run(["bash", str(LOCAL / "stack.sh"), "status"], cwd=ROOT,
                            stdin=subprocess.DEVNULL, capture_output=True, text=True)
    rows = (line.split() for line in status.stdout.splitlines())
    return {row[0] for row in rows if len(row) > 1 and row[1] in ("healthy", "starting")}


def relay(argv: list[str], console: Console, prefix: str = "") -> int:
    """Run ``argv``, its output line by line to the console (never to a terminal of its own:
    a closed terminal must not fail the stack's stop)."""
    with subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, errors="replace") as child:
        try:
            for line in child.stdout:
                console.say(prefix + line.rstrip())
        except Stop:
            with contextlib.suppress(ProcessLookupError):
                child.terminate()
            raise
        return child.wait()


# --- the run ----------------------------------------------------------------------------------
class Run:
    def __init__(self, args):
        self.stack_dir = Path(os.environ["STACK_DIR"])
        self.log_dir = self.stack_dir / "log"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.console = Console(self.log_dir / "supervisor.log")
        self.marker = f"SUPERVISION_RUN={os.environ['SUPERVISION_RUN']}"
        self.procfile_path = Path(args.procfile)
        self.procfile = parse_procfile(self.procfile_path.read_text()).processes
        self.started = time.monotonic()
        self.rc = 0
        # The stack's components that ran before this run (`make up`): its stop leaves them up.
        # Until they are known, the run has started none.
        self.kept: set[str] | None = None

    def web_services(self) -> dict[str, str]:
        """Procfile process -> its address, for each one that has a ``<NAME>_BIND``."""
        binds = {}
        for name in self.procfile:
            bind = os.environ.get(f"{name.upper().replace('-', '_')}_BIND")
            if bind:
                binds[name] = bind.replace("0.0.0.0", "127.0.0.1")
        return binds

    def main(self) -> int:
        say = self.console.say
        try:
            say(f"==> make run: the stack in {rel(self.stack_dir)}/, then the "
                f"{len(self.procfile)} processes of {rel(self.procfile_path)}; logs in "
                f"{rel(self.log_dir)}/")
            self.kept = running_components()
            if self.kept:
                say(f"==> the stack's {', '.join(sorted(self.kept))} already running "
                    "(make up): left running when this run stops")
            if relay(["bash", str(LOCAL / "stack.sh"), "up"], self.console) != 0:
                say("error: the stack did not start (above); stopping")
                self.rc = 1
                return self.rc
            self.services()
        except Stop as signal_name:
            self.console.note(f"{signal_name} received")
            self.rc = self.rc or 143
        except Exception as exc:  # noqa: BLE001 - whatever broke, the run still stops clean
            say(f"error: the supervisor failed: {exc!r}")
            self.rc = 1
        finally:
            for signum in STOP_SIGNALS:
                signal.signal(signum, signal.SIG_IGN)
            self.stop()
        return self.rc

    def services(self) -> None:
        # Fresh Prometheus multiprocess directories: stale files would be summed into new
        # counters.
        for service in {name.split("-")[0] for name in self.procfile}:
            metrics = self.stack_dir / "metrics" / service
            shutil.rmtree(metrics, ignore_errors=True)
            metrics.mkdir(parents=True)
        printer = ProcessLogs(self.console, self.log_dir, self.watch)
        printer.expected = len(self.procfile)
        manager = Manager(printer=printer)
        for name, command in self.procfile.items():
            manager.add_process(name, command, env=dict(os.environ), cwd=str(ROOT))
        # honcho returns once its processes are gone: one exited, so it stopped the others.
        manager.loop()
        self.rc = manager.returncode or 1

    def watch(self, pids: dict[str, int]) -> None:
        """Once honcho started every process (so that no thread is forked): readiness, then
        the URLs and the demo city, in a thread of its own."""
        self.console.note(f"started: {pids}")
        threading.Thread(target=self._ready_then_demo, daemon=True).start()

    def _ready_then_demo(self) -> None:
        say = self.console.say
        workers = [n for n in self.procfile if n not in self.web_services()]
        say(f"==> started {len(self.procfile)} processes; workers: {', '.join(workers)}")
        waiting = dict(self.web_services())
        since = time.monotonic()
        while waiting and not stopping.is_set():
            for name, bind in list(waiting.items()):
                with contextlib.suppress(requests.RequestException):
                    if requests.get(f"http://{bind}/readyz", timeout=2).status_code < 500:
                        say(f" ok {name} ready ({time.monotonic() - since:.0f} s, http://{bind})")
                        del waiting[name]
            time.sleep(0.3)
        if stopping.is_set():
            return
        say(self.urls())
        say(f"==> ready in {time.monotonic() - self.started:.0f} s. Ctrl-C stops the services "
            f"and the stack; make logs follows the logs.")
        if os.environ.get("DEMO_DATA", "1") != "0":
            self.demo()

    def urls(self) -> str:
        env = os.environ
        issues = env["ISSUES_BIND"]
        web = self.web_services()
        lines = [""]
        if "web" in web:
            lines.append(f"  web app         http://{web.pop('web')}")
        lines += [
            f"  issues          http://{issues}/docs",
            f"                  http://{issues}/board/330602   (public board of a county)",
            f"                  http://{issues}/dashboard      (city dashboard)",
        ]
        for name, bind in web.items():
            if name != "issues":
                lines.append(f"  {name:<15} http://{bind}/docs")
        lines += [
            f"  Prometheus      http://127.0.0.1:{env['PROMETHEUS_PORT']}",
            f"  Kafka           {env['KAFKA_BOOTSTRAP_SERVERS']}",
            f"  MongoDB         {env['MONGODB_URI']}   (FerretDB)",
            f"  PostgreSQL      postgres://postgres@127.0.0.1:{env['POSTGRES_PORT']}/ferretdb",
            f"  JWT secret      SUPERVISION_JWT_SECRET={env['SUPERVISION_JWT_SECRET']}",
            f"  state / logs    {rel(self.stack_dir)}/ , {rel(self.log_dir)}/",
            "",
        ]
        return "\n".join(lines)

    def demo(self) -> None:
        """The demo data (through the API; the province profile through the use cases); a county
        that has items already is skipped."""
        argv = [sys.executable, "-m", "tools.demo.load", "--issues",
                f"http://{os.environ['ISSUES_BIND']}",
                "--every", os.environ.get("DEMO_EVERY", "1")]
        if os.environ.get("DEMO_PROFILE") == "zhejiang":
            # 10^5 items and their transitions one request each would take hours here; the
            # seed records the same changes through the service's use cases (tools/demo/seed.py).
            argv.append("--direct")
        with (self.log_dir / "demo-data.log").open("a", encoding="utf-8") as log, \
                subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True, errors="replace",
                                 start_new_session=True) as loader:
            for line in loader.stdout:
                log.write(line)
                log.flush()
                if not stopping.is_set():
                    self.console.say(f"demo: {line.rstrip()}")
            rc = loader.wait()
        if rc != 0 and not stopping.is_set():
            self.console.say(f"warning: the demo load failed (rc={rc}); see "
                             f"{rel(self.log_dir / 'demo-data.log')}")

    def stop(self) -> None:
        stopping.set()
        say = self.console.say
        began = time.monotonic()
        say("==> stopping the services")
        components = stack_components(self.stack_dir)
        end(lambda: {p for p in marked(self.marker) if not within(p, components)},
            self.console, "service processes")
        started = [] if self.kept is None else [c for c in COMPONENTS if c not in self.kept]
        if started:
            say("==> stopping the stack" + (f" ({', '.join(started)}; make down stops the rest)"
                                            if self.kept else ""))
            with contextlib.suppress(Stop):
                relay(["bash", str(LOCAL / "stack.sh"), "down", *started], self.console)
        # A component whose start was cut short before its pid file was written.
        end(lambda: marked(self.marker), self.console, "processes of the run")
        say(f"==> stopped in {time.monotonic() - began:.1f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="deploy/local/supervise.py")
    parser.add_argument("--parent", type=int, required=True, help="run.sh's pid")
    parser.add_argument("--procfile", required=True)
    args = parser.parse_args()
    for signum in STOP_SIGNALS:
        signal.signal(signum, _raise_stop)
    try:
        die_with(args.parent)
        run = Run(args)
    except Stop:  # before anything was started: nothing to stop
        sys.exit(143)
    sys.exit(run.main())
