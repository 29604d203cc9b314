"""Sign-in through an OpenID Connect provider, end to end against a provider of the test's own
(a small HTTP server with discovery, JWKS and a token endpoint): authorization code with PKCE
(S256), the ID token checked against the provider's keys, its claims mapped to a person, the
provider's access token kept for the calls to the services; claims that make no person are
refused with the reason."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from services.web.app import create_app
from shared.config import Settings

CLIENT = "supervision-web"


class Provider:
    def __init__(self):
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
        self.claims: dict = {}
        self.challenge: str | None = None
        self.nonce: str | None = None
        self.seen_verifier: str | None = None
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _json(self, body: dict, status: int = 200):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if self.path == "/.well-known/openid-configuration":
                    self._json({"issuer": provider.url,
                                "authorization_endpoint": f"{provider.url}/authorize",
                                "token_endpoint": f"{provider.url}/token",
                                "jwks_uri": f"{provider.url}/jwks",
                                "id_token_signing_alg_values_supported": ["RS256"]})
                elif self.path == "/jwks":
                    self._json({"keys": [provider.key.as_dict(private=False)]})
                else:
                    self._json({}, 404)

            def do_POST(self):
                form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
                verifier = form.get("code_verifier", [""])[0]
                provider.seen_verifier = verifier
                digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
                if form.get("code") != ["the-code"] or digest.rstrip(b"=").decode() != \
                        provider.challenge:
                    self._json({"error": "invalid_grant"}, 400)
                    return
                now = int(time.time())
                claims = {"iss": provider.url, "aud": CLIENT, "iat": now, "exp": now + 300,
                          "nonce": provider.nonce, **provider.claims}
                id_token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, provider.key)
                self._json({"access_token": "provider-access-token", "token_type": "Bearer",
                            "expires_in": 300, "id_token": id_token})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def provider():
    provider = Provider()
    yield provider
    provider.server.shutdown()


@pytest.fixture
def client(provider):
    settings = dataclasses.replace(
        Settings.from_env(), oidc_issuer=provider.url, oidc_client_id=CLIENT,
        oidc_client_secret="client-secret", web_public_url="http://127.0.0.1:8000",
        oidc_role_claim="groups", oidc_county_claim="county")
    return create_app(settings).test_client()


def sign_in(client, provider) -> tuple:
    page = client.get("/signin")
    assert "使用单位统一身份认证登录" in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    started = client.post("/signin/oidc", data={"csrf_token": token, "next": ""})
    assert started.status_code == 302
    to = urlsplit(started.headers["Location"])
    query = {k: v[0] for k, v in parse_qs(to.query).items()}
    assert f"{to.scheme}://{to.netloc}{to.path}" == f"{provider.url}/authorize"
    assert query["code_challenge_method"] == "S256" and query["client_id"] == CLIENT
    assert query["redirect_uri"] == "http://127.0.0.1:8000/signin/callback"
    provider.challenge, provider.nonce = query["code_challenge"], query["nonce"]
    return client.get(f"/signin/callback?code=the-code&state={query['state']}")


def test_the_provider_signs_a_county_admin_in_with_pkce(client, provider):
    provider.claims = {"sub": "li.si", "name": "李四", "groups": ["staff", "county_admin"],
                       "county": "330603"}
    answer = sign_in(client, provider)
    assert answer.status_code == 302 and answer.headers["Location"] == "/county"
    assert provider.seen_verifier  # the code went with its PKCE verifier
    with client.session_transaction() as session:
        assert session["person"] == {"sub": "li.si", "role": "county_admin", "name": "李四",
                                     "county": "330603"}
        assert session["token"] == "provider-access-token"
    cookie = client.get_cookie("supervision_session")
    assert cookie.http_only and cookie.secure is False  # plain http on 127.0.0.1 only


def test_claims_without_a_role_sign_nobody_in_and_say_why(client, provider):
    provider.claims = {"sub": "visitor", "groups": ["staff"]}
    answer = sign_in(client, provider)
    assert answer.status_code == 302 and answer.headers["Location"] == "/signin"
    with client.session_transaction() as session:
        assert "person" not in session
    assert "没有可用的角色" in client.get("/signin").text


def test_no_form_is_taken_without_its_csrf_token(client):
    assert client.post("/signin/oidc", data={"next": ""}).status_code == 400
    assert client.post("/signout").status_code == 400
