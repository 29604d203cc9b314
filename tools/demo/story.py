"""``make demo``: one unannounced inspection that fails and reopens items, told in the terminal.

    python -m tools.demo.story [--issues URL] [--inspections URL] [--notifications URL]

1. A county system of 柯桥区 (330603) subscribes to its county's events (a local receiver that
   verifies every Standard Webhooks signature).
2. The city plans a spot check of 柯桥区 by a team from 越城区 (rule X); 柯桥区 cannot see it (U).
3. An inspector starts it on site; now 柯桥区 sees it.
4. The team files its results: failures on items 柯桥区 had crossed off.
5. The issues service reopens those items by itself (rule R, 倒逼整改).
6. The county system has received the signed events, and never the plan.

Talks to the running services over their public HTTP API only; needs the demo city loaded
(python -m tools.demo.load) and the notifications service started with WEBHOOK_ALLOWED_HOSTS
admitting 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from shared import divisions
from shared.config import Settings
from tools.demo.client import ApiFailure, DemoError, Service, Tokens, poll, wait_ready
from tools.demo.load import CHINA

# The story is Shaoxing's (its region, 330600, or the province, 330000).
COUNTIES = divisions.of(Settings.from_env()).counties
TARGET = "330603"  # 柯桥区
HOME = "330602"  # 越城区: the team's home county, never the target (rule X)
TEAM = [{"sub": "demo-inspector-1@330602", "county": HOME, "name": "督查组 赵某某"},
        {"sub": "demo-inspector-2@330602", "county": HOME, "name": "督查组 钱某某"}]
FAILED, PASSED = 3, 1  # checks the team files
FINDINGS = (
    "回访发现整改台账与实际不符,群众反映问题依然存在",
    "现场查看公示栏未更新,整改材料系事后补写,属“纸上整改”",
    "走访党员群众,整改措施未落实到位,已销号问题出现反弹",
)
WAIT = 180.0  # default seconds for each asynchronous outcome (a busy database is slow)


@dataclass(frozen=True)
class Received:
    """One webhook call the county system got, and whether its signature was good."""

    id: str
    type: str
    subject: str
    verified: bool


class CountySystem:
    """A sample county system: an HTTP endpoint on 127.0.0.1 verifying each signature."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._webhook: Webhook | None = None
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def trust(self, secret: str) -> None:
        """The subscription's secret, known once the subscription exists."""
        self._webhook = Webhook(secret)

    def events(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def _receive(self, body: bytes, headers: dict[str, str]) -> int:
        if self._webhook is None:
            return 503  # not subscribed yet: the service will try again
        try:
            event = self._webhook.verify(body, headers)
            verified = True
        except WebhookVerificationError:
            event, verified = json.loads(body or b"{}"), False
        with self._lock:
            self.received.append(Received(headers.get("webhook-id", ""), event.get("type", "?"),
                                          event.get("subject", "?"), verified))
        return 204 if verified else 401

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        system = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                if self.path != "/hook":
                    self.send_response(404)
                else:
                    body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    self.send_response(system._receive(body, headers))
                self.end_headers()

            def log_message(self, *args) -> None:
                """Quiet: the story prints what matters."""

        return Handler


def step(number: int, chinese: str, english: str) -> None:
    print(f"\n[{number}/6] {chinese}\n      {english}", flush=True)


def say(line: str) -> None:
    print(f"      {line}", flush=True)


class Story:
    def __init__(self, issues: Service, inspections: Service, notifications: Service,
                 tokens: Tokens, wait: float = WAIT):
        self.issues, self.inspections, self.notifications = issues, inspections, notifications
        self.wait = wait
        self.tokens = tokens
        self.city = tokens.city()
        self.county = tokens.county_admin(TARGET)
        self.inspector = tokens.inspector(TEAM[0]["sub"], HOME)
        self.system = CountySystem()
        self.subscription: str | None = None

    def tell(self) -> None:
        self.system.start()
        try:
            self.subscribe()
            items = self.closed_items()
            inspection = self.plan([i["id"] for i in items])
            self.start(inspection)
            failed = self.file_results(inspection, items)
            self.watch_reopening(failed)
            self.show_received(failed)
        finally:
            self.unsubscribe()
            self.system.stop()

    def subscribe(self) -> None:
        step(1, "柯桥区县级系统订阅本县事件(签名 Webhook)",
             "A county system of 柯桥区 subscribes to its county's events (signed webhooks)")
        try:
            created = self.notifications.call(
                "POST", "/v1/subscriptions", self.county, expect=(201,),
                json={"url": self.system.url, "event_types": ["*"], "counties": [TARGET]}).json()
        except ApiFailure as exc:
            if exc.status == 422:
                raise DemoError(f"{exc}\nThe notifications service must be started with "
                                "WEBHOOK_ALLOWED_HOSTS=127.0.0.1 (make run sets it).") from exc
            raise
        self.subscription = created["id"]
        self.system.trust(created["secret"])
        say(f"subscription {created['id']} → {self.system.url} (secret {created['secret'][:10]}…)")

    def closed_items(self) -> list[dict]:
        page = self.issues.call("GET", "/v1/items", self.city, params={
            "county": TARGET, "status": "closed", "limit": FAILED + PASSED}).json()
        if len(page["items"]) < FAILED + PASSED:
            raise DemoError(f"柯桥区 has only {len(page['items'])} closed items; load the demo "
                            "city first: python -m tools.demo.load")
        return page["items"]

    def plan(self, item_ids: list[str]) -> str:
        step(2, "市委组织部不打招呼安排交叉抽查:越城区督查组检查柯桥区已销号问题",
             "The city plans an unannounced cross-county spot check of 柯桥区 by a 越城区 team")
        now = datetime.now(CHINA)
        body = {"target_county": TARGET, "kind": "spot_check", "team": TEAM,
                "window_start": (now - timedelta(minutes=5)).isoformat(),
                "window_end": (now + timedelta(hours=4)).isoformat(), "item_ids": item_ids}
        key = str(uuid.uuid4())

        def attempt() -> dict | None:
            try:
                return self.inspections.call(
                    "POST", "/v1/inspections", self.city, expect=(201,), json=body,
                    headers={"Idempotency-Key": key}).json()
            except ApiFailure as exc:
                if exc.status == 422 and "behind" in str(exc):
                    return None  # its copy of the items, built from events, is catching up
                raise

        planned = poll(attempt, timeout=self.wait, what="the inspections service to know the items")
        inspection = planned["id"]
        say(f"inspection {inspection}: {planned['status']}, kind spot_check, "
            f"target {COUNTIES[TARGET]} {TARGET}, team from {COUNTIES[HOME]} {HOME}, "
            f"{len(item_ids)} closed items")
        self.inspections.call("GET", f"/v1/inspections/{inspection}", self.county,
                              expect=(404,))
        say(f"柯桥区 asks GET /v1/inspections/{inspection} → 404: 暗访,被检查县看不到 "
            "(rule U: invisible to the target county)")
        return inspection

    def start(self, inspection: str) -> None:
        step(3, "督查组到达现场,开始检查;柯桥区此时才能看到",
             "The team arrives on site and starts; only now does 柯桥区 see the inspection")
        started = self.inspections.call("POST", f"/v1/inspections/{inspection}/start",
                                        self.inspector).json()
        say(f"{TEAM[0]['name']} ({TEAM[0]['sub']}) started it: {started['status']}")
        seen = self.inspections.call("GET", f"/v1/inspections/{inspection}", self.county).json()
        say(f"柯桥区 asks again → 200, status {seen['status']}")

    def file_results(self, inspection: str, items: list[dict]) -> list[dict]:
        step(4, "督查组提交抽查结果:已销号问题复查不合格",
             "The team files its results: crossed-off items fail the re-check")
        observed = datetime.now(CHINA).isoformat()
        failed, passed = items[:FAILED], items[FAILED:]
        checks = [{"item_id": item["id"], "outcome": "fail", "findings": findings,
                   "evidence": [f"现场照片 IMG_{2031 + n}.jpg", f"走访记录 第{n + 1}页"],
                   "observed_at": observed}
                  for n, (item, findings) in enumerate(zip(failed, FINDINGS, strict=True))]
        checks += [{"item_id": item["id"], "outcome": "pass", "findings": "整改到位,群众认可",
                    "evidence": ["现场照片 IMG_2040.jpg"], "observed_at": observed}
                   for item in passed]
        found = failed[0]
        body = {"checks": checks, "new_problems": [{
            "township": found["township"], "village": found["village"],
            "problem": "村务公开栏内容长期未更新,财务收支未按月公开",
            "measure": "立即更新村务公开栏,每月按时公开财务收支明细"}]}
        key = str(uuid.uuid4())
        path = f"/v1/inspections/{inspection}/results"
        first = self.inspections.call("POST", path, self.inspector, json=body,
                                      headers={"Idempotency-Key": key}, expect=(200, 201))
        again = self.inspections.call("POST", path, self.inspector, json=body,
                                      headers={"Idempotency-Key": key}, expect=(200, 201))
        for item, check in zip(items, checks, strict=True):
            say(f"{check['outcome']:4} {item['township']} {item['village']}: {item['problem']}")
            if check["outcome"] == "fail":
                say(f"     findings: {check['findings']}")
        say(f"new problem found on site in {found['village']}: "
            f"{body['new_problems'][0]['problem']}")
        say(f"inspection {first.json()['status']}; the same filing sent again (Idempotency-Key) "
            f"answers {again.status_code} with the same result and changes nothing")
        return failed

    def watch_reopening(self, failed: list[dict]) -> None:
        step(5, "倒逼整改:问题自动重新打开(事件驱动,无需人工操作)",
             "Rule R: the issues service reopens the failed items by itself, from the events")
        for item in failed:
            def reopened(item_id: str = item["id"]) -> dict | None:
                now = self.issues.call("GET", f"/v1/items/{item_id}", self.city).json()
                return now if now["status"] == "reopened" else None

            now = poll(reopened, timeout=self.wait, what=f"item {item['id']} to be reopened")
            entry = next(h for h in reversed(now["history"]) if h["to"] == "reopened")
            say(f"{now['village']} — {now['problem']}")
            say(f"     status {item['status']} → {now['status']}, reopened {now['reopen_count']}×,"
                f" new deadline {now['deadline']}")
            at = datetime.fromisoformat(entry["at"]).astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")
            say(f"     history: {at} {entry['actor']} {entry['from']} → {entry['to']}, "
                f"cause {entry['cause']}, inspection {entry.get('inspection_id')}: "
                f"{entry['reason']}")

    def show_received(self, failed: list[dict]) -> None:
        step(6, "柯桥区县级系统收到的签名事件(从未收到检查计划)",
             "The signed events the county system received (never the plan)")
        wanted = {item["id"] for item in failed}

        def all_reopenings() -> bool:
            got = {e.subject for e in self.system.events() if e.type == "issue.reopened"}
            return wanted <= got

        try:
            poll(all_reopenings, timeout=self.wait,
                 what="the county system to receive issue.reopened")
        finally:
            events = self.system.events()
            seen: set[str] = set()
            for event in events:
                mark = "✓ signature verified" if event.verified else "✗ BAD SIGNATURE"
                # Delivery is at least once: a county system drops what it already has, by id.
                repeat = "  (repeat of the same event id: ignored)" if event.id in seen else ""
                seen.add(event.id)
                say(f"{event.type:28} {event.subject}  {mark}{repeat}")
        if not all(e.verified for e in events):
            raise DemoError("The county system received events whose signature did not verify.")
        leaked = [e for e in events if e.type == "inspection.planned"]
        if leaked:
            raise DemoError(f"Rule U broken: the target county received {leaked}.")
        say(f"{len(events)} calls, {len(seen)} distinct events, every signature verified; "
            "no inspection.planned (rule U)")

    def unsubscribe(self) -> None:
        """The sample system goes away with the story, so its subscription goes too."""
        if self.subscription:
            try:
                self.notifications.call("DELETE", f"/v1/subscriptions/{self.subscription}",
                                        self.county, expect=(204, 404))
            except DemoError as exc:
                say(f"(could not remove subscription {self.subscription}: {exc})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.demo.story", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--issues", default="http://127.0.0.1:8001")
    parser.add_argument("--inspections", default="http://127.0.0.1:8002")
    parser.add_argument("--notifications", default="http://127.0.0.1:8003")
    parser.add_argument("--ready-timeout", type=float, default=120,
                        help="seconds to wait for the services' /readyz")
    parser.add_argument("--wait", type=float, default=WAIT,
                        help="seconds to wait for each asynchronous outcome")
    args = parser.parse_args(argv)
    services = [Service("issues", args.issues), Service("inspections", args.inspections),
                Service("notifications", args.notifications)]
    story = Story(*services, tokens=Tokens(Settings.from_env()), wait=args.wait)
    try:
        wait_ready(services, args.ready_timeout)
        print("演示:一次不打招呼的交叉抽查 — the story of one unannounced spot check", flush=True)
        story.tell()
    except DemoError as exc:
        print(f"\n演示失败 the demo failed: {exc}", file=sys.stderr)
        return 1
    print("\n演示完成 the demo is complete.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
