"""Summarise a py-spy profile of the key flow: where each process of the services spends its
wall-clock time, by the innermost frame of the project's own code.

    py-spy record --subprocesses --idle --format raw -o flow.raw -- python -m bench.reopen ...
    python -m bench.hotspots flow.raw

Samples of threads that wait (``--idle``) count too: a worker waiting for the database is the
hotspot of a latency-bound flow. Stacks that never enter the project's code (Kafka client
threads, thread pools waiting for work) are left out.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter, defaultdict

PROCESS = re.compile(r'^process \d+:"(?P<cmd>[^"]*)"$')
FRAME = re.compile(r"^(?P<function>.+) \((?P<file>[^:]+):(?P<line>\d+)\)$")
# py-spy names files by their shortest distinguishing path: "shared/outbox.py", "issues/api.py".
OWN = ("shared/", "services/", "issues/", "inspections/", "notifications/")


def process_name(cmd: str) -> str:
    for marker in ("services.issues.app", "services.inspections.app", "services.notifications.app"):
        if marker in cmd:
            return marker.split(".")[1] + " (gunicorn)"
    if "-m " in cmd:
        return " ".join(cmd.split("-m ", 1)[1].split()[:2])
    return cmd[-60:]


def summarise(path: str, top: int) -> dict[str, list[tuple[str, int]]]:
    by_process: dict[str, Counter] = defaultdict(Counter)
    with open(path, encoding="utf-8", errors="replace") as profile:
        lines = profile.readlines()
    for line in lines:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        frames = stack.split(";")
        name, own = None, []
        for frame in frames:
            if match := PROCESS.match(frame):
                name, own = process_name(match["cmd"]), []
            elif (match := FRAME.match(frame)) and match["file"].startswith(OWN):
                own.append(f"{match['file']}:{match['line']} {match['function']}")
        if name is None or not own:
            continue
        # The project's innermost call, and whether the thread was waiting there or working.
        by_process[name][own[-1]] += int(count)
    return {name: counts.most_common(top) for name, counts in by_process.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("profile")
    parser.add_argument("--top", type=int, default=8)
    args = parser.parse_args()
    for name, rows in sorted(summarise(args.profile, args.top).items()):
        print(f"\n{name}")
        for where, samples in rows:
            print(f"  {samples:>7}  {where}")


if __name__ == "__main__":
    main()
