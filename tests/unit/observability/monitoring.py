"""Where the monitoring configuration lives, and promtool to check it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
RULES = PROMETHEUS_DIR / "rules" / "supervision.yml"
RULES_TESTS = PROMETHEUS_DIR / "rules" / "supervision.test.yml"


def promtool(*args: str) -> subprocess.CompletedProcess:
    """Run promtool; it is part of the project's toolchain, so its absence is a failure."""
    binary = shutil.which("promtool")
    assert binary, ("promtool not found on PATH: it comes with Debian's prometheus package, "
                    "installed by deploy/local/install.sh (make install)")
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=120)
