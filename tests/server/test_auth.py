"""Accounts through real HTTP on a server started with ``--no-anonymous-read --rate-limit 8``:
reads need a token, ``/me`` names the token's user and scopes, ``POST /tokens`` never grants more
than the caller has, and a token (or an address) gets 429 past its requests per minute."""

from __future__ import annotations

import pytest

SERVER_ARGS = ["--no-anonymous-read", "--rate-limit", "8"]


@pytest.fixture
def new_token(sqlite_server):
    """A function: (user, scopes) -> a fresh token (each has a rate-limit window of its own)."""
    accounts = sqlite_server.accounts()
    return lambda user, scopes: accounts.create_token(user, scopes)


def test_reads_without_a_token_are_401(sqlite_server):
    with sqlite_server.client() as anonymous:
        answers = [anonymous.get(path) for path in ("/learnwares", "/learnwares/0123456789abcdef", "/metrics", "/me")]
        health = anonymous.get("/health")
    assert [a.status_code for a in answers] == [401] * 4
    assert {a.json()["error"]["type"] for a in answers} == {"AuthenticationError"}
    assert answers[0].headers["www-authenticate"] == "Bearer"
    assert health.status_code == 200


def test_me_names_the_tokens_user_and_scopes(sqlite_server, new_token):
    with sqlite_server.client(new_token("alice", ["read", "write"])) as alice:
        assert alice.get("/me").json() == {"user": "alice", "scopes": ["read", "write"], "is_admin": False}
        assert alice.get("/learnwares").json()["total"] == 0
    with sqlite_server.client("mrt_not-a-real-token") as forged:
        assert forged.get("/me").status_code == 401
    with sqlite_server.client() as client:
        malformed = client.get("/me", headers={"Authorization": "Basic YWxpY2U6cGFzcw=="})
    assert malformed.status_code == 401 and malformed.json()["error"]["type"] == "AuthenticationError"


def test_a_new_token_has_at_most_the_callers_scopes(sqlite_server, new_token):
    with sqlite_server.client(new_token("alice", ["read", "write"])) as alice:
        created = alice.post("/tokens", json={"scopes": ["read"], "label": "laptop"})
        too_much = alice.post("/tokens", json={"scopes": ["admin"]})
        unknown = alice.post("/tokens", json={"scopes": ["root"]})
    assert created.status_code == 201, created.text
    assert too_much.status_code == 403 and too_much.json()["error"]["type"] == "PermissionDeniedError"
    assert unknown.status_code == 422
    token = created.json()["token"]
    assert token.startswith("mrt_") and created.json()["scopes"] == ["read"]
    with sqlite_server.client(token) as reader:
        assert reader.get("/me").json()["scopes"] == ["read"]
        assert reader.post("/tokens", json={"scopes": ["write"]}).status_code == 403
        upload = reader.post("/uploads", content=b"PK", headers={"Content-Type": "application/zip"})
    assert upload.status_code == 403
    with sqlite_server.client(new_token("admin", ["admin"])) as admin:
        granted = admin.post("/tokens", json={"scopes": ["admin"]})
    assert granted.status_code == 201 and granted.json()["user"] == "admin"


def test_a_token_past_its_rate_limit_gets_429(sqlite_server, new_token):
    limited, other = new_token("alice", ["read"]), new_token("alice", ["read"])
    with sqlite_server.client(limited) as client:
        answers = [client.get("/me") for _ in range(9)]
    assert [a.status_code for a in answers] == [200] * 8 + [429]
    assert answers[-1].json()["error"]["type"] == "RateLimitError"
    assert 0 < int(answers[-1].headers["retry-after"]) <= 60
    with sqlite_server.client(other) as client:
        assert client.get("/me").status_code == 200  # a window per token
