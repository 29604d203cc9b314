"""The city console: the ledger and ranking (each figure a link into the list it counts),
items waiting for verification (销号 or reject, the evidence in view), planning an unannounced
cross-county inspection with a preview of its sample, following inspections and their results,
and the county systems' subscriptions."""

from __future__ import annotations

import random

from flask import Blueprint, flash, redirect, render_template, request, url_for

from services.web import client
from services.web.client import ServiceError
from services.web.county import list_params
from services.web.signin import requires
from services.web.timing import from_local_input, now
from shared import divisions
from shared.events import CATALOG, ITEM_STATUSES

NOTHING_TO_DRAW = ("该县区没有符合所选状态的问题可供抽样。检查服务的问题副本可能比问题清单晚几秒，"
                   "刚录入的问题请稍后再试。")
blp = Blueprint("city", __name__, url_prefix="/city")
KEY = "Idempotency-Key"


@blp.get("")
@requires("city_admin")
def console(person, token):
    issues = client.issues(token)
    ledger = issues.get("/v1/ledger")
    quarter = request.args.get("quarter") or None
    ranking = issues.get("/v1/ranking", params={"quarter": quarter} if quarter else {})
    return render_template("city/console.html", ledger=ledger, ranking=ranking,
                           statuses=ITEM_STATUSES)


@blp.get("/items")
@requires("city_admin")
def items(person, token):
    params = list_params(request.args, limit=50)
    if request.args.get("county"):
        params["county"] = request.args["county"]
    page = client.issues(token).get("/v1/items", params=params)
    more = {k: v for k, v in request.args.items() if k != "cursor"}
    return render_template("city/items.html", page=page, args=request.args,
                           next_url=url_for("city.items", **more, cursor=page["next_cursor"])
                           if page["next_cursor"] else None)


@blp.get("/verify")
@requires("city_admin")
def verify_list(person, token):
    page = client.issues(token).get("/v1/items", params=list_params(
        request.args, status="pending_verification", limit=50))
    return render_template("city/verify.html", page=page)


# --- inspections --------------------------------------------------------------------------
@blp.get("/inspections")
@requires("city_admin")
def inspections(person, token):
    params = {k: request.args[k] for k in ("status", "target_county", "cursor")
              if request.args.get(k)}
    page = client.inspections(token).get("/v1/inspections", params={**params, "limit": 50})
    return render_template("city/inspections.html", page=page, args=request.args)


@blp.get("/inspections/<inspection_id>")
@requires("city_admin")
def inspection(inspection_id: str, person, token):
    found = client.inspections(token).get(f"/v1/inspections/{inspection_id}")
    return render_template("city/inspection.html", inspection=found)


@blp.post("/inspections/<inspection_id>/cancel")
@requires("city_admin")
def cancel(inspection_id: str, person, token):
    try:
        client.inspections(token).post(f"/v1/inspections/{inspection_id}/cancel",
                                       json={"reason": request.form.get("reason") or None})
        flash("检查已取消。", "info")
    except ServiceError as exc:
        if exc.status != 409:
            raise
        flash(f"无法取消：{exc.detail}", "error")
    return redirect(url_for("city.inspection", inspection_id=inspection_id))


@blp.get("/plan")
@requires("city_admin")
def plan(person, token):
    start = now().replace(minute=0, second=0, microsecond=0)
    form = {"target_county": "", "kind": "spot_check", "strategy": "risk", "size": "10",
            "window_start": start.strftime("%Y-%m-%dT%H:%M"),
            "window_end": start.replace(hour=18).strftime("%Y-%m-%dT%H:%M")
            if start.hour < 17 else (start.replace(hour=23, minute=59)).strftime(
                "%Y-%m-%dT%H:%M"),
            "team": "", "seed": str(random.randrange(1, 2**31)), "status": []}
    return _plan_page(form)


def _plan_page(form: dict, *, preview=None, errors=None, failure=None, status=200):
    return render_template("city/plan.html", form=form, preview=preview, errors=errors or {},
                           failure=failure, statuses=ITEM_STATUSES), status


def read_team(text: str) -> tuple[list[dict], list[str]]:
    """One member a line, ``账号, 县区, 姓名`` (the county as its code or its name)."""
    team, problems = [], []
    for number, line in enumerate(text.splitlines(), 1):
        parts = [p.strip() for p in line.replace("，", ",").split(",")]
        if not any(parts):
            continue
        if len(parts) < 2 or not parts[0]:
            problems.append(f"第 {number} 行：请写成“账号, 县区, 姓名”。")
            continue
        county = divisions.current().county_code(parts[1])
        if county is None:
            problems.append(f"第 {number} 行：不认识县区“{parts[1]}”。")
            continue
        member = {"sub": parts[0], "county": county}
        if len(parts) > 2 and parts[2]:
            member["name"] = parts[2]
        team.append(member)
    return team, problems


def rule_x_words(team: list[dict], target: str) -> list[str]:
    """Rule X in words: no member may inspect their own home county."""
    target_name = divisions.current().county_name(target)
    return [f"{m.get('name') or m['sub']}（{m['sub']}）的所在县区就是被检查的{target_name}："
            "交叉检查必须由其他县区的人员进行（规则 X），请换一位其他县区的成员。"
            for m in team if m["county"] == target]


@blp.post("/plan")
@requires("city_admin")
def plan_post(person, token):
    f = request.form
    form = {k: f.get(k, "").strip() for k in ("target_county", "kind", "strategy", "size",
                                               "window_start", "window_end", "team", "seed")}
    form["status"] = [s for s in f.getlist("status") if s in ITEM_STATUSES]
    errors: dict[str, list[str]] = {}
    target = form["target_county"]
    if not divisions.current().is_county(target):
        errors["被检查县区"] = ["请选择被检查的县区。"]
    team, problems = read_team(form["team"])
    if problems or not team:
        errors["检查组"] = problems or ["请至少写一位检查组成员。"]
    elif divisions.current().is_county(target) and (refused := rule_x_words(team, target)):
        errors["检查组"] = refused
    try:
        size = int(form["size"])
        if not 1 <= size <= 500:
            raise ValueError
    except ValueError:
        errors["抽样数量"] = ["请写 1 到 500 之间的整数。"]
        size = 0
    try:
        window = (from_local_input(form["window_start"]), from_local_input(form["window_end"]))
    except ValueError:
        errors["时间窗口"] = ["请写明开始和结束时间。"]
        window = None
    seed = int(form["seed"]) if form["seed"].isdigit() else random.randrange(1, 2**31)
    form["seed"] = str(seed)
    if errors:
        return _plan_page(form, errors=errors, status=422)
    sample = {"strategy": form["strategy"], "size": size, "seed": seed}
    if form["status"]:
        sample["status"] = form["status"]
    if f.get("action") != "plan":
        try:
            preview = client.inspections(token).get("/v1/inspections/draw", params={
                "target_county": target, **sample})
        except ServiceError as exc:
            if exc.status != 422:
                raise
            # The service's words are English; the one refusal a valid form can meet here.
            failure = (NOTHING_TO_DRAW if "sample" in (exc.errors or {}) else exc.detail)
            return _plan_page(form, failure=failure, status=422)
        return _plan_page(form, preview=preview)
    body = {"target_county": target, "kind": form["kind"], "team": team,
            "window_start": window[0].isoformat(), "window_end": window[1].isoformat(),
            "sample": sample}
    try:
        planned = client.inspections(token).post(
            "/v1/inspections", json=body, headers={KEY: f"web-plan-{person.sub}-{seed}"})
    except ServiceError as exc:
        if exc.status not in (409, 422):
            raise
        return _plan_page(form, errors=_plan_errors(exc.errors, team, target),
                          failure=exc.detail, status=exc.status)
    name = divisions.current().county_name(target)
    flash(f"已计划对{name}的不打招呼检查，抽取 {planned['item_count']} 项。", "info")
    return redirect(url_for("city.inspection", inspection_id=planned["id"]))


def _plan_errors(errors: dict, team: list[dict], target: str) -> dict:
    words = {}
    for key, messages in errors.items():
        if key.startswith("team."):
            index = int(key.split(".")[1]) if key.split(".")[1].isdigit() else None
            member = team[index] if index is not None and index < len(team) else None
            if member is not None and member["county"] == target:
                words.setdefault("检查组", []).extend(rule_x_words([member], target))
                continue
        words.setdefault(key, []).extend(messages if isinstance(messages, list) else [messages])
    return words


# --- county systems' subscriptions ---------------------------------------------------------
@blp.get("/subscriptions")
@requires("city_admin")
def subscriptions(person, token):
    page = client.notifications(token).get("/v1/subscriptions", params={"limit": 100})
    return render_template("city/subscriptions.html", page=page, types=list(CATALOG),
                           errors={}, form={})


@blp.post("/subscriptions")
@requires("city_admin")
def subscribe(person, token):
    service = client.notifications(token)
    form = {"url": request.form.get("url", "").strip(),
            "event_types": request.form.getlist("event_types"),
            "counties": request.form.getlist("counties")}
    try:
        created = service.post("/v1/subscriptions", json=form)
    except ServiceError as exc:
        if exc.status not in (409, 422):
            raise
        page = service.get("/v1/subscriptions", params={"limit": 100})
        return render_template("city/subscriptions.html", page=page, types=list(CATALOG),
                               errors=exc.errors, failure=exc.detail, form=form), exc.status
    return render_template("city/secret.html", subscription=created, secret=created["secret"])


@blp.get("/subscriptions/<subscription_id>")
@requires("city_admin")
def subscription(subscription_id: str, person, token):
    service = client.notifications(token)
    found = service.get(f"/v1/subscriptions/{subscription_id}")
    log = service.get(f"/v1/subscriptions/{subscription_id}/deliveries",
                      params={"limit": 50, **({"cursor": request.args["cursor"]}
                                              if request.args.get("cursor") else {})})
    return render_template("city/subscription.html", subscription=found, log=log,
                           since=now().replace(hour=0, minute=0).strftime("%Y-%m-%dT%H:%M"))


@blp.post("/subscriptions/<subscription_id>/rotate")
@requires("city_admin")
def rotate(subscription_id: str, person, token):
    service = client.notifications(token)
    rotated = service.post(f"/v1/subscriptions/{subscription_id}/rotate-secret")
    found = service.get(f"/v1/subscriptions/{subscription_id}")
    return render_template("city/secret.html", subscription=found, secret=rotated["secret"],
                           previous_expires=rotated.get("previous_secret_expires_at"))


@blp.post("/subscriptions/<subscription_id>/replay")
@requires("city_admin")
def replay(subscription_id: str, person, token):
    try:
        since = from_local_input(request.form.get("since", ""))
    except ValueError:
        flash("请写明从何时起重新投递。", "error")
        return redirect(url_for("city.subscription", subscription_id=subscription_id))
    answer = client.notifications(token).post(
        f"/v1/subscriptions/{subscription_id}/replay", json={"since": since.isoformat()})
    more = "（还有更早之后的事件，请从 {} 起再次重放）".format(answer["continue_since"]) \
        if answer.get("continue_since") else ""
    flash(f"已重新投递 {answer['replayed']} 个事件{more}。", "info")
    return redirect(url_for("city.subscription", subscription_id=subscription_id))
