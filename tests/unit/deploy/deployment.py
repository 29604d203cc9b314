"""The deployment as data, for the tests that check it against the code: the processes of
``make run`` (deploy/local/Procfile), the environment variables the code reads, the web ports,
docker-compose.yml and the Kubernetes manifests."""

from __future__ import annotations

import inspect
import re
import shlex
from functools import cache
from pathlib import Path

import yaml

from shared.config import Settings

ROOT = Path(__file__).resolve().parents[3]
PROCFILE = ROOT / "deploy" / "local" / "Procfile"
COMPOSE = ROOT / "docker-compose.yml"
K8S = ROOT / "deploy" / "k8s"
IMAGE = "supervision:latest"
WEB_SERVICES = ("issues", "inspections", "notifications", "web")
# docs/api.md, "Services".
CONTRACT_PORTS = {"web": 8000, "issues": 8001, "inspections": 8002, "notifications": 8003,
                  "kafka": 9092, "mongo": 27017, "prometheus": 9090, "grafana": 3000}
TOPIC_BOOTSTRAP = ["python", "-m", "shared.kafka", "ensure-topics"]

_ENV_READ = re.compile(r"""(?:environ|env)(?:\.get\(|\[)\s*["']([A-Z][A-Z0-9_]*)["']""")


def program(argv: list[str]) -> list[str]:
    """``argv`` without its ``exec env`` prefix and virtualenv path: what runs, in any
    deployment."""
    args = list(argv)
    if args and args[0] == "exec":
        args.pop(0)
    if args and args[0] == "env":
        args.pop(0)
        while args and (args[0] == "-u" or re.fullmatch(r"[A-Z_]+=.*", args[0])):
            args = args[2:] if args[0] == "-u" else args[1:]
    return [Path(args[0]).name, *args[1:]] if args else []


@cache
def procfile() -> dict[str, list[str]]:
    """Process name -> the program it runs, as ``make run`` starts it."""
    processes = {}
    for line in PROCFILE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, command = line.split(":", 1)
            processes[name.strip()] = program(shlex.split(command))
    return processes


def is_web(argv: list[str]) -> bool:
    return argv[0] == "gunicorn"


@cache
def known_variables() -> frozenset[str]:
    """Every environment variable the code of the services reads."""
    sources = [*ROOT.glob("shared/**/*.py"), *ROOT.glob("services/**/*.py")]
    return frozenset(name for path in sources for name in _ENV_READ.findall(path.read_text()))


def settings_variables() -> set[str]:
    """The variables ``Settings.from_env`` reads: the configuration every process shares."""
    return set(_ENV_READ.findall(inspect.getsource(Settings.from_env)))


def _bind_setting(service: str) -> str:
    """The Settings field the service's gunicorn.conf.py binds to."""
    conf = (ROOT / "services" / service / "gunicorn.conf.py").read_text()
    match = re.search(r"^bind = settings\.([a-z_]+)$", conf, re.M)
    assert match, f"no bind in services/{service}/gunicorn.conf.py"
    return match.group(1)


def web_port(service: str) -> int:
    """The port of the default ``bind`` of the service's gunicorn.conf.py."""
    return int(getattr(Settings(), _bind_setting(service)).rsplit(":", 1)[1])


def bind_variable(service: str) -> str:
    """The variable that sets the service's ``bind`` (read by Settings.from_env)."""
    name = _bind_setting(service).upper()
    assert name in settings_variables(), name
    return name


@cache
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@cache
def kustomization() -> dict:
    return yaml.safe_load((K8S / "kustomization.yaml").read_text())


@cache
def manifests() -> tuple[dict, ...]:
    """Every object the kustomization applies."""
    objects = []
    for resource in kustomization()["resources"]:
        objects += [doc for doc in yaml.safe_load_all((K8S / resource).read_text()) if doc]
    return tuple(objects)


def objects(kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in manifests() if o["kind"] == kind}


def workloads() -> dict[str, dict]:
    """Deployments and StatefulSets by name: the long-running processes."""
    return {**objects("Deployment"), **objects("StatefulSet")}


def containers(obj: dict) -> list[dict]:
    return obj["spec"]["template"]["spec"]["containers"]


def env_value(container: dict, name: str) -> dict | None:
    """The ``env`` entry ``name`` of a container (value or valueFrom), if any."""
    return next((e for e in container.get("env", []) if e["name"] == name), None)
