"""A worker outside gunicorn can serve its own /metrics (one process a pod, as in Kubernetes)."""

import os
import subprocess
import sys

import requests

from tests.processes import ROOT, free_port
from tests.support import eventually

WORKER = ("from shared.metrics import EVENTS_PUBLISHED, serve_from_env; serve_from_env();"
          "EVENTS_PUBLISHED.labels('issues', 'issue.created').inc(3);"
          "import time; time.sleep(60)")


def test_a_worker_serves_its_metrics_on_metrics_port():
    port = free_port()
    env = {**os.environ, "METRICS_PORT": str(port)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    worker = subprocess.Popen([sys.executable, "-c", WORKER], env=env, cwd=ROOT)
    try:
        def scraped():
            try:
                return requests.get(f"http://127.0.0.1:{port}/metrics", timeout=1).text
            except requests.ConnectionError:
                return None

        text = eventually(scraped, timeout=20)
        assert ('supervision_events_published_total{service="issues",type="issue.created"} 3.0'
                in text)
    finally:
        worker.kill()
        worker.wait(10)
