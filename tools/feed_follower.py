"""A sample county system following the supervision pull feed.

It long-polls GET /v1/feed, prints every event, and keeps its cursor in a file, written only
after a page has been handled: stopped and started again, it goes on exactly where it was, with
nothing missed and nothing handled twice.

    python tools/feed_follower.py --service http://127.0.0.1:8003 \\
        --token "$(python -m shared.auth mint --role subscriber --county 330602)" \\
        --cursor-file var/feed-330602.cursor
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import time
from pathlib import Path

import requests


def read_cursor(path: Path) -> str | None:
    if not path.exists():
        return None
    return path.read_text().strip() or None


def write_cursor(path: Path, cursor: str) -> None:
    # Written aside and renamed into place: a crash leaves the old cursor or the new, never half.
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".partial")
    partial.write_text(cursor)
    os.replace(partial, path)


def follow(service: str, token: str, cursor_file: Path, *, types: str | None, wait: int,
           once: bool) -> None:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    backoff = 1.0
    while True:
        params = {"wait": wait, "limit": 200}
        if cursor := read_cursor(cursor_file):
            params["after"] = cursor
        if types:
            params["types"] = types
        try:
            answer = session.get(f"{service}/v1/feed", params=params, timeout=wait + 10)
            answer.raise_for_status()
        except requests.RequestException as exc:
            print(f"feed unavailable ({exc}); retrying in {backoff:g} s", flush=True)
            time.sleep(backoff)
            backoff = min(backoff * 2, 60)
            continue
        backoff = 1.0
        page = answer.json()
        for event in page["items"]:
            print(json.dumps(event, ensure_ascii=False), flush=True)
        write_cursor(cursor_file, page["next_cursor"])
        if once and not page["items"]:
            return


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--service", default="http://127.0.0.1:8003")
    parser.add_argument("--token", required=True)
    parser.add_argument("--cursor-file", type=Path, required=True)
    parser.add_argument("--types", help="comma-separated event types to follow")
    parser.add_argument("--wait", type=int, default=25, help="long-poll seconds (at most 30)")
    parser.add_argument("--once", action="store_true", help="stop when caught up")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        follow(args.service, args.token, args.cursor_file, types=args.types, wait=args.wait,
               once=args.once)


if __name__ == "__main__":
    main()
