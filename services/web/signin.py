"""Sign-in and sign-out: the organisation's OpenID Connect provider (authorization code with
PKCE, through Authlib) in production; with WEB_LOCAL_SIGN_IN=1 (`make run`) also a clearly
marked local sign-in as one of the demo people, whose token is minted with the deployment's
HS256 secret. The session (a signed, HttpOnly cookie) holds the person and their token."""

from __future__ import annotations

import functools
from urllib.parse import urlsplit

from authlib.integrations.flask_client import OAuth
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from services.web.people import Person, demo_people, person_from_claims
from shared.auth import mint
from shared.config import Settings

blp = Blueprint("signin", __name__)
TOKEN_SECONDS = 8 * 3600


def init_app(app, settings: Settings) -> None:
    # One client registry per app: each app knows its own provider.
    oauth = app.extensions["web.oauth"] = OAuth(app)
    if settings.oidc_issuer:
        oauth.register(
            "organisation",
            server_metadata_url=settings.oidc_issuer.rstrip("/")
            + "/.well-known/openid-configuration",
            client_id=settings.oidc_client_id, client_secret=settings.oidc_client_secret or None,
            client_kwargs={"scope": settings.oidc_scope, "code_challenge_method": "S256"})


def _settings() -> Settings:
    return current_app.config["SETTINGS"]


def _provider():
    return current_app.extensions["web.oauth"].organisation


def signed_in() -> tuple[Person, str] | None:
    data = session.get("person")
    if not data or "token" not in session:
        return None
    return Person(**data), session["token"]


def requires(*roles: str):
    """Decorator: the view needs a signed-in person of one of ``roles``; it receives
    ``person`` and ``token``. Others are sent to sign in, or told they may not."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            current = signed_in()
            if current is None:
                return redirect(url_for("signin.page", next=request.full_path))
            person, token = current
            if person.role not in roles:
                abort(403)
            return view(*args, person=person, token=token, **kwargs)

        return wrapper

    return decorator


def home_of(person: Person) -> str:
    return {"city_admin": url_for("city.console"), "county_admin": url_for("county.workbench"),
            "inspector": url_for("field.mine")}.get(person.role, url_for("signin.page"))


def _safe_next(target: str | None) -> str | None:
    """Only a path of this site: never an open redirect to elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    return target if not urlsplit(target).netloc else None


def _start(person: Person, token: str):
    session.clear()
    session.permanent = True
    session["person"] = person.as_dict()
    session["token"] = token
    return redirect(_safe_next(request.values.get("next")) or home_of(person))


@blp.get("/")
def index():
    current = signed_in()
    return redirect(home_of(current[0]) if current else url_for("signin.page"))


@blp.get("/signin")
def page():
    settings = _settings()
    people = demo_people() if settings.web_local_sign_in else []
    return render_template("signin.html", people=people, oidc=bool(settings.oidc_issuer),
                           next=_safe_next(request.args.get("next")) or "")


@blp.post("/signin/local")
def local():
    if not _settings().web_local_sign_in:
        abort(404)
    person = next((p for p in demo_people() if p.sub == request.form.get("sub")), None)
    if person is None:
        flash("请选择一位演示人员。", "error")
        return redirect(url_for("signin.page"))
    token = mint(_settings().jwt_secret, sub=person.sub, role=person.role, county=person.county,
                 ttl_seconds=TOKEN_SECONDS)
    return _start(person, token)


@blp.post("/signin/oidc")
def oidc():
    if not _settings().oidc_issuer:
        abort(404)
    session["next"] = _safe_next(request.form.get("next"))
    redirect_uri = _settings().web_public_url.rstrip("/") + url_for("signin.callback")
    return _provider().authorize_redirect(redirect_uri)


@blp.get("/signin/callback")
def callback():
    if not _settings().oidc_issuer:
        abort(404)
    settings = _settings()
    answer = _provider().authorize_access_token()
    claims = answer.get("userinfo") or {}
    try:
        person = person_from_claims(claims, role_claim=settings.oidc_role_claim,
                                    county_claim=settings.oidc_county_claim)
    except ValueError as exc:
        flash(f"无法登录：{exc}", "error")
        return redirect(url_for("signin.page"))
    following = session.get("next")
    response = _start(person, answer["access_token"])
    return redirect(following) if following else response


@blp.post("/signout")
def signout():
    session.clear()
    flash("已退出登录。", "info")
    return redirect(url_for("signin.page"))


def expired():
    """A service refused the token (expired, or signed with a key no longer trusted)."""
    session.clear()
    flash("登录已过期，请重新登录。", "error")
    return redirect(url_for("signin.page", next=_safe_next(request.full_path)))
