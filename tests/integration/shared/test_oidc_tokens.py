"""Tokens of an OpenID Connect provider, verified by its JWKS: a provider of the test's own
(keys made here with cryptography, its JWKS and OpenID configuration served on loopback), the
issues service on the real database taking them beside the deployment's HS256 tokens."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import jwt.jwks_client
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from services.issues.app import create_app
from shared.auth import mint

AUDIENCE = "supervision-api"


class Provider:
    """An issuer on 127.0.0.1: /.well-known/openid-configuration and /jwks, counting fetches."""

    def __init__(self):
        self.keys: dict[str, object] = {}  # kid → private key
        self.fetches = 0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": provider.issuer, "jwks_uri": provider.issuer + "/jwks"}
                elif self.path == "/jwks":
                    provider.fetches += 1
                    body = {"keys": [provider.public_jwk(kid) for kid in provider.keys]}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add_key(self, kid: str, kind: str = "RS256"):
        self.keys[kid] = (rsa.generate_private_key(public_exponent=65537, key_size=2048)
                          if kind == "RS256" else ec.generate_private_key(ec.SECP256R1()))

    def public_jwk(self, kid: str) -> dict:
        key = self.keys[kid]
        algorithm = jwt.algorithms.RSAAlgorithm if isinstance(key, rsa.RSAPrivateKey) \
            else jwt.algorithms.ECAlgorithm
        return json.loads(algorithm.to_jwk(key.public_key())) | {"kid": kid, "use": "sig"}

    def token(self, kid: str, **claims) -> str:
        key = self.keys[kid]
        algorithm = "RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256"
        body = {"iss": self.issuer, "aud": AUDIENCE, "sub": "li@yuecheng",
                "exp": int(time.time()) + 300,
                "groups": ["staff", "county_admin"], "org": {"county": "330602"}} | claims
        return jwt.encode(body, key, algorithm=algorithm, headers={"kid": kid})


@pytest.fixture
def provider():
    issuer = Provider()
    issuer.add_key("rsa-1")
    issuer.add_key("ec-1", "ES256")
    yield issuer
    issuer.server.shutdown()


@pytest.fixture
def client(settings, provider):
    # The provider's claim names: a group list for the role, a nested county.
    configured = dataclasses.replace(settings, oidc_issuer=provider.issuer,
                                     oidc_audience=AUDIENCE, oidc_role_claim="groups",
                                     oidc_county_claim="org.county")
    return create_app(configured).test_client()


def status(client, token: str) -> int:
    return client.get("/v1/items?county=330602",
                      headers={"Authorization": f"Bearer {token}"}).status_code


def test_rs256_and_es256_tokens_of_the_issuer_are_taken_with_the_claims_mapped(client,
                                                                               provider):
    for kid in ("rsa-1", "ec-1"):
        assert status(client, provider.token(kid)) == 200
    # The mapped county is the scope: another county's list is refused.
    other = client.get("/v1/items?county=330603",
                       headers={"Authorization": f"Bearer {provider.token('rsa-1')}"})
    assert other.status_code == 403


def test_the_keys_are_fetched_once_and_kept(client, provider):
    for _ in range(5):
        assert status(client, provider.token("rsa-1")) == 200
    assert provider.fetches == 1


class Later:
    """The clock of PyJWT's key client, ``seconds`` on."""

    def __init__(self, seconds: float):
        self.seconds = seconds

    def monotonic(self) -> float:
        return time.monotonic() + self.seconds


def test_a_key_the_provider_rotated_in_is_taken_up_after_the_cooldown(client, provider,
                                                                      monkeypatch):
    assert status(client, provider.token("rsa-1")) == 200
    provider.add_key("rsa-2")
    # Within 30 s of a fetch an unknown key id fetches nothing (no provider flooding) ...
    assert status(client, provider.token("rsa-2")) == 401 and provider.fetches == 1
    # ... after that, it fetches the keys again once.
    monkeypatch.setattr(jwt.jwks_client, "time", Later(31))
    assert status(client, provider.token("rsa-2")) == 200
    assert status(client, provider.token("rsa-1")) == 200
    assert provider.fetches == 2


@pytest.mark.parametrize("claims", [
    {"aud": "another-api"},
    {"iss": "http://127.0.0.1:9/another-issuer"},
    {"exp": int(time.time()) - 60},
    {"groups": ["staff"]},  # no role of the contract
    {"org": {}},  # a county admin without a county
])
def test_a_token_of_another_audience_issuer_or_without_its_claims_is_401(client, provider,
                                                                         claims):
    answer = client.get("/v1/items", headers={
        "Authorization": f"Bearer {provider.token('rsa-1', **claims)}"})
    assert answer.status_code == 401 and answer.content_type == "application/problem+json"


def test_a_token_signed_by_a_key_not_in_the_jwks_is_401(client, provider):
    stranger = Provider()
    stranger.add_key("rsa-1")  # the same kid, another key
    try:
        forged = stranger.token("rsa-1", iss=provider.issuer)
        assert status(client, forged) == 401
        stranger.add_key("rsa-9")
        assert status(client, stranger.token("rsa-9", iss=provider.issuer)) == 401
    finally:
        stranger.server.shutdown()


def test_an_hs256_token_made_with_the_public_key_as_its_secret_is_401(client, provider):
    public_pem = provider.keys["rsa-1"].public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    claims = {"iss": provider.issuer, "aud": AUDIENCE, "sub": "x", "role": "city_admin",
              "exp": int(time.time()) + 60}
    # PyJWT refuses to sign with a PEM as an HMAC secret; made by hand as an attacker would.
    signing_input = ".".join(jwt.utils.base64url_encode(json.dumps(part).encode()).decode()
                             for part in ({"alg": "HS256", "typ": "JWT"}, claims))
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{jwt.utils.base64url_encode(signature).decode()}"
    assert status(client, forged) == 401


def test_the_deployments_hs256_tokens_are_still_taken_beside(client, settings):
    token = mint(settings.jwt_secret, sub="yc", role="county_admin", county="330602")
    assert status(client, token) == 200


def test_an_empty_secret_takes_the_providers_tokens_only(settings, provider):
    configured = dataclasses.replace(settings, jwt_secret="", oidc_issuer=provider.issuer,
                                     oidc_audience=AUDIENCE, oidc_role_claim="groups",
                                     oidc_county_claim="org.county")
    client = create_app(configured).test_client()
    hs256 = mint(settings.jwt_secret, sub="yc", role="county_admin", county="330602")
    assert status(client, hs256) == 401
    assert status(client, provider.token("ec-1")) == 200


def test_without_an_issuer_no_provider_token_is_taken(settings, provider):
    client = create_app(settings).test_client()
    assert status(client, provider.token("rsa-1")) == 401


def test_a_provider_whose_keys_cannot_be_fetched_is_503_not_401(settings):
    configured = dataclasses.replace(settings, oidc_issuer="http://127.0.0.1:9",
                                     oidc_jwks_url="http://127.0.0.1:9/jwks")
    issuer = Provider()
    issuer.add_key("rsa-1")
    try:
        token = issuer.token("rsa-1", iss="http://127.0.0.1:9")
        answer = create_app(configured).test_client().get(
            "/v1/items", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 503 and answer.headers["Retry-After"]
    finally:
        issuer.server.shutdown()
