"""Who may call what: every route of the app × every kind of caller.

The routes come from the app itself, and each must have a policy in ``POLICIES``: a route
added without one fails ``test_every_route_has_a_policy``, so none can be forgotten. The
callers are no key, a made-up key, a revoked key, an OPD key of another OPD, the OPD's own
key and a Diskominfo key. On the dashboard a "key" is a session signed in with it (a
revoked key's session was signed in before the key was revoked).

Every request names OPD ``DINKES``'s own things (its post, its code, ``opd=DINKES``), so an
OPD key of ``DISDIK`` asking is asking about another OPD. "Allowed" means neither 401 nor 403
(the route may still answer 404, 409 or 422 for the request itself) and never a 5xx.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from api.app import create_app
from api.routes.dashboard import COOKIE
from db.accounts.apikeys import create_api_key, revoke_api_key
from db.posts.lifecycle import submit_post
from tests.api.conftest import SAME_ORIGIN, app_settings
from tests.factories import add_asn

CALLERS = ("none", "bad", "revoked", "other_opd", "own_opd", "diskominfo")
Caller = Literal["none", "bad", "revoked", "other_opd", "own_opd", "diskominfo"]
Kind = Literal[
    "public",
    "webhook",
    "api_key",
    "opd_scoped",
    "diskominfo",
    "dashboard",
    "key_form",
    "link_form",
    "metrics",
]
WEBHOOK_SECRET = "rahasia-webhook-uji-0123456789abcdef"
METRICS_TOKEN = "rahasia-metrik-uji-0123456789abcdef"


@dataclass(frozen=True)
class Policy:
    """``public``: anyone; ``webhook``: the channel's secret, never an API key; ``api_key``:
    any valid key; ``opd_scoped``: Diskominfo or the OPD's own key; ``diskominfo``: Diskominfo
    keys only; ``dashboard``: a signed-in session that may see the OPD; ``key_form``: the
    dashboard's sign-in form, posted with the caller's key; ``link_form``: the exchange of a
    sign-in link, which no key opens (posted with a made-up link); ``metrics``: the
    ``GAUNG_METRICS_TOKEN`` bearer only, which no API key is."""

    kind: Kind
    query: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None


POLICIES: dict[tuple[str, str], Policy] = {
    ("GET", "/openapi.json"): Policy("public"),
    ("GET", "/docs"): Policy("public"),
    ("GET", "/docs/oauth2-redirect"): Policy("public"),
    ("GET", "/redoc"): Policy("public"),
    ("GET", "/healthz"): Policy("public"),
    # Only GAUNG_METRICS_TOKEN opens it (no API key does); tests/api/test_metrics.py tries it.
    ("GET", "/metrics"): Policy("metrics"),
    ("GET", "/r/{code}"): Policy("public"),  # a tracked link: the code is the only credential
    ("POST", "/webhook/telegram"): Policy("webhook", body={"update_id": 1}),
    ("GET", "/webhook/whatsapp"): Policy(
        "webhook", {"hub.mode": "subscribe", "hub.challenge": "1", "hub.verify_token": "salah"}
    ),
    ("POST", "/webhook/whatsapp"): Policy("webhook", body={"object": "whatsapp_business_account"}),
    ("GET", "/api/v1/participation"): Policy("opd_scoped", {"opd": "DINKES"}),
    ("GET", "/api/v1/participation.csv"): Policy("opd_scoped", {"opd": "DINKES"}),
    ("GET", "/api/v1/participation.xlsx"): Policy("opd_scoped", {"opd": "DINKES"}),
    ("GET", "/api/v1/participation/trend"): Policy("opd_scoped", {"opd": "DINKES"}),
    ("GET", "/api/v1/posts"): Policy("opd_scoped", {"opd": "DINKES"}),
    ("POST", "/api/v1/posts"): Policy(
        "opd_scoped", body={"url": "https://www.instagram.com/p/{n}/", "opd": "DINKES"}
    ),
    ("GET", "/api/v1/posts/{post_id}"): Policy("opd_scoped"),
    ("POST", "/api/v1/posts/{post_id}/approve"): Policy("diskominfo", body={"neutral": True}),
    ("POST", "/api/v1/posts/{post_id}/reject"): Policy("diskominfo", body={"reason": "uji"}),
    ("POST", "/api/v1/posts/{post_id}/cancel"): Policy("diskominfo"),
    ("POST", "/api/v1/posts/{post_id}/clarification"): Policy("diskominfo"),
    ("GET", "/api/v1/opd/{kode}/asn"): Policy("opd_scoped"),
    ("GET", "/dashboard/static"): Policy("public"),
    ("GET", "/dashboard/masuk"): Policy("public"),
    ("POST", "/dashboard/masuk"): Policy("key_form"),
    ("POST", "/dashboard/masuk/tautan"): Policy("link_form", body={"token": "salah.salah"}),
    ("POST", "/dashboard/keluar"): Policy("public"),
    ("GET", "/dashboard"): Policy("dashboard", {"opd": "DINKES"}),
    ("GET", "/dashboard/unduh.csv"): Policy("dashboard", {"opd": "DINKES"}),
    ("GET", "/dashboard/unduh.xlsx"): Policy("dashboard", {"opd": "DINKES"}),
    ("GET", "/api/v1/activity"): Policy("opd_scoped", {"opd": "DINKES"}),
    ("GET", "/api/v1/activity.csv"): Policy("opd_scoped", {"opd": "DINKES"}),
    ("GET", "/dashboard/aktivitas.csv"): Policy("dashboard", {"opd": "DINKES"}),
}


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves, HEAD aside; a mount counts as a GET."""
    found = set()
    for context in iter_route_contexts(app.routes):
        for method in context.methods or {"GET"}:
            if method != "HEAD":
                found.add((method, context.path))
    return found


def expected(policy: Policy, caller: Caller) -> str:
    """``allowed``, ``401``, ``403`` or, for dashboard pages, ``sign-in`` (a redirect)."""
    if policy.kind == "public":
        return "allowed"
    if policy.kind == "webhook":
        return "403"  # an API key is not the webhook's secret
    if policy.kind == "metrics":
        return "401"  # an API key, even Diskominfo's, is not the metrics token
    if policy.kind == "link_form":
        return "401"
    if policy.kind == "key_form":  # any valid key signs in; what it then sees is scoped
        return "401" if caller in ("none", "bad", "revoked") else "allowed"
    if policy.kind == "dashboard":
        if caller in ("none", "bad", "revoked"):
            return "sign-in"
        return "403" if caller == "other_opd" else "allowed"
    if caller in ("none", "bad", "revoked"):
        return "401"
    if policy.kind == "api_key" or caller == "diskominfo":
        return "allowed"
    if policy.kind == "diskominfo":
        return "403"
    return "403" if caller == "other_opd" else "allowed"


@dataclass
class World:
    client: TestClient
    engine: Engine
    keys: dict[str, str]
    post_id: int


@pytest.fixture
def world(database_url: str, engine: Engine) -> Iterator[World]:
    with Session(engine) as session:
        add_asn(session, opd="DINKES")
        add_asn(session, opd="DISDIK")
        keys = {
            "revoked": create_api_key(session, role="diskominfo")[1],
            "other_opd": create_api_key(session, role="opd", opd_kode="DISDIK")[1],
            "own_opd": create_api_key(session, role="opd", opd_kode="DINKES")[1],
            "diskominfo": create_api_key(session, role="diskominfo")[1],
            "bad": "gaung_" + "x" * 43,
        }
        post = submit_post(session, opd_kode="DINKES", url="https://www.instagram.com/p/dinkes/")
        assert post.id is not None
        post_id = post.id
        session.commit()
    settings = app_settings(
        database_url, telegram_webhook_secret=WEBHOOK_SECRET, metrics_token=METRICS_TOKEN
    )
    with TestClient(create_app(settings), headers=SAME_ORIGIN) as client:
        yield World(client, engine, keys, post_id)


def _sessions(world: World) -> dict[str, dict[str, str]]:
    """A dashboard cookie per caller that can sign in; the revoked key's is revoked after."""
    cookies: dict[str, dict[str, str]] = {}
    for caller in ("revoked", "other_opd", "own_opd", "diskominfo"):
        world.client.cookies.clear()
        signed = world.client.post(
            "/dashboard/masuk", data={"kunci": world.keys[caller]}, follow_redirects=False
        )
        assert signed.status_code == 303, caller
        cookies[caller] = {COOKIE: world.client.cookies[COOKIE]}
    world.client.cookies.clear()
    with Session(world.engine) as session:
        from db.accounts.apikeys import identify

        found = identify(session, world.keys["revoked"])
        assert found is not None
        revoke_api_key(session, found[0].key_id)
        session.commit()
    bad = world.client.post("/dashboard/masuk", data={"kunci": world.keys["bad"]})
    assert bad.status_code == 401
    return cookies


_urls = itertools.count()


def _fill(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("{n}", str(next(_urls)))
    if isinstance(value, dict):
        return {k: _fill(v) for k, v in value.items()}
    return value


def test_every_route_has_a_policy(world: World) -> None:
    served = app_routes(world.client.app)  # type: ignore[arg-type]
    assert served - POLICIES.keys() == set(), "routes without a policy: add them to POLICIES"
    assert POLICIES.keys() - served == set(), "policies of routes that no longer exist"


def test_the_authorization_matrix(world: World) -> None:
    cookies = _sessions(world)
    outcomes: dict[tuple[str, str, str], str] = {}
    for (method, path), policy in sorted(POLICIES.items()):
        url = path.replace("{post_id}", str(world.post_id)).replace("{kode}", "DINKES")
        url = url.replace("{code}", "bukan-kode")
        if path == "/dashboard/static":
            url = "/dashboard/static/dashboard.css"
        for caller in CALLERS:
            headers: dict[str, str] = {}
            key = world.keys.get(caller, "")
            if caller != "none" and policy.kind not in ("dashboard", "key_form", "link_form"):
                headers["Authorization"] = f"Bearer {key}"
            jar = cookies.get(caller, {}) if policy.kind == "dashboard" else {}
            world.client.cookies.clear()
            for name, value in jar.items():
                world.client.cookies.set(name, value, path="/dashboard")
            form = policy.kind in ("key_form", "link_form") or path == "/dashboard/keluar"
            body = {"kunci": key} if policy.kind == "key_form" else _fill(policy.body)
            response = world.client.request(
                method,
                url,
                params=policy.query,
                headers=headers,
                json=None if form else body,
                data=body if form else None,
                follow_redirects=False,
            )
            status = response.status_code
            assert status < 500, (method, path, caller, status, response.text[:200])
            if status in (401, 403):
                got = str(status)
            elif policy.kind == "dashboard" and status == 303:
                assert response.headers["location"] == "/dashboard/masuk"
                got = "sign-in"
            else:
                got = "allowed"
            outcomes[(method, path, caller)] = got
    wrong = {
        cell: (got, expected(POLICIES[cell[:2]], cell[2]))  # type: ignore[arg-type]
        for cell, got in outcomes.items()
        if got != expected(POLICIES[cell[:2]], cell[2])  # type: ignore[arg-type]
    }
    assert wrong == {}
    assert len(outcomes) == len(POLICIES) * len(CALLERS)
