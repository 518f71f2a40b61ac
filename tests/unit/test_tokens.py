"""API tokens: stored hashed, shown once, refused when forged, expired or revoked; the
``cmdb token`` commands; the rate limiter's buckets; the JSON depth measure."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

from cmdb.auth.roles import Role
from cmdb.auth.tokens import (
    MAX_TOKEN_CHARS,
    TokenStore,
    Unauthenticated,
    parse_duration,
)
from cmdb.cli import app
from cmdb.domain.errors import InvalidInput, NotFound
from cmdb.web.jsondepth import json_depth, too_deep
from cmdb.web.ratelimit import TokenBuckets
from tests.fakes import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def tokens(tmp_path: Path, clock: FakeClock) -> TokenStore:
    return TokenStore(tmp_path / "tokens.db", clock=clock)


def _stored_rows(path: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as db:
        return list(db.execute("SELECT * FROM api_token"))


def test_a_token_authenticates_and_only_its_hash_is_stored(tokens: TokenStore) -> None:
    clear, info = tokens.create("ci-bot", Role.DISCOVERY, services=("ci_1",))
    assert clear.startswith(f"cmdb_{info.key}_")
    who = tokens.authenticate(clear)
    assert (who.name, who.role, who.services, who.token_key) == (
        "ci-bot",
        Role.DISCOVERY,
        ("ci_1",),
        info.key,
    )
    secret = clear.split("_", 2)[2]
    dump = repr(_stored_rows(tokens.path))
    assert secret not in dump and clear not in dump
    listed = repr(tokens.list())
    assert secret not in listed and "sha256" not in listed


@pytest.mark.parametrize(
    "forge",
    [
        lambda c: None,
        lambda c: "",
        lambda c: c[:-1] + ("A" if c[-1] != "A" else "B"),  # one character off
        lambda c: c.replace("cmdb_", "cmdx_"),
        lambda c: "cmdb_" + "0" * 12 + "_" + c.split("_", 2)[2],  # right secret, wrong key
        lambda c: c.split("_", 2)[0] + "_" + c.split("_", 2)[1],  # no secret
        lambda c: "cmdb__x",
        lambda c: c + "x" * MAX_TOKEN_CHARS,
        lambda c: "Bearer " + c,
    ],
)
def test_forged_tokens_are_refused_with_one_message(
    tokens: TokenStore, forge: Callable[[str], str | None]
) -> None:
    clear, _ = tokens.create("t", Role.ADMIN)
    with pytest.raises(Unauthenticated) as caught:
        tokens.authenticate(forge(clear))
    assert caught.value.message in ("invalid token", "a bearer token is required")


def test_expired_and_revoked_tokens_are_refused(tokens: TokenStore, clock: FakeClock) -> None:
    short, _ = tokens.create("short", Role.VIEWER, expires_at=clock.now + timedelta(hours=1))
    tokens.authenticate(short)
    clock.advance(hours=1)
    with pytest.raises(Unauthenticated):
        tokens.authenticate(short)
    kept, info = tokens.create("kept", Role.VIEWER)
    assert tokens.revoke(info.key).revoked_at == clock.now
    with pytest.raises(Unauthenticated):
        tokens.authenticate(kept)
    tokens.revoke(info.key)  # twice is harmless
    with pytest.raises(NotFound):
        tokens.revoke("feedface")


def test_creation_refuses_bad_input(tokens: TokenStore, clock: FakeClock) -> None:
    with pytest.raises(InvalidInput):
        tokens.create("  ", Role.VIEWER)
    with pytest.raises(InvalidInput):
        tokens.create("t", Role.VIEWER, expires_at=clock.now)
    with pytest.raises(InvalidInput):
        tokens.create("t", Role.VIEWER, services=("a,b",))
    naive = (clock.now + timedelta(days=1)).replace(tzinfo=None)
    _, info = tokens.create("t", Role.VIEWER, expires_at=naive)  # no zone: UTC, not a crash
    assert info.expires_at is not None and info.expires_at.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30d", 30 * 86400), ("12h", 43200), ("90m", 5400), ("45s", 45), ("2W", 14 * 86400)],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "0d", "30", "d", "1y", "-1d", "1.5h", "9999999d"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_duration(text)


# -- cmdb token ----------------------------------------------------------------------------


@pytest.fixture
def run(tmp_path: Path) -> Callable[..., Result]:
    runner = CliRunner()
    env = {
        "CMDB_STORE": "embedded",
        "CMDB_TOKENS_PATH": str(tmp_path / "tokens.db"),
        "COLUMNS": "200",
    }

    def invoke(*args: str, ok: bool = True) -> Result:
        result = runner.invoke(app, ["--db", str(tmp_path / "cli.db"), *args], env=env)
        if ok:
            assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
        return result

    return invoke


def test_cli_creates_lists_and_revokes_without_showing_secrets(
    run: Callable[..., Result], tmp_path: Path
) -> None:
    run("sample", "load")
    clear = run("token", "create", "desk", "--role", "viewer").stdout.strip()
    assert clear.startswith("cmdb_") and "\n" not in clear
    made = orjson.loads(
        run(
            "token", "create", "bot", "--role", "discovery", "--service",
            "Boarding Pass App API", "--expires-in", "30d", "--json",
        ).stdout
    )  # fmt: skip
    assert made["token"].startswith(f"cmdb_{made['key']}_") and made["status"] == "active"
    assert made["services"][0].startswith("ci_") and made["expires_at"]

    store = TokenStore(tmp_path / "tokens.db")
    assert store.authenticate(made["token"]).services == tuple(made["services"])

    for listing in (run("token", "list").stdout, run("token", "list", "--json").stdout):
        for secret in (clear, made["token"], clear.split("_", 2)[2]):
            assert secret not in listing
        assert "sha256" not in listing
    rows = orjson.loads(run("token", "list", "--json").stdout)
    assert {r["name"] for r in rows} == {"desk", "bot"}

    run("token", "revoke", made["key"])
    with pytest.raises(Unauthenticated):
        store.authenticate(made["token"])
    rows = orjson.loads(run("token", "list", "--json").stdout)
    assert {r["name"]: r["status"] for r in rows} == {"desk": "active", "bot": "revoked"}


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--role", "viewer", "--service", "srv-01"), "not a service"),
        (("--role", "viewer", "--service", "no-such-thing"), "no-such-thing"),
        (("--role", "viewer", "--expires-in", "soon"), "--expires-in"),
    ],
)
def test_cli_refuses_bad_tokens(
    run: Callable[..., Result], args: tuple[str, ...], needle: str
) -> None:
    run("sample", "load")
    result = run("token", "create", "x", *args, ok=False)
    assert result.exit_code == 2 and needle in result.stderr and "Traceback" not in result.output
    assert "cmdb_" not in result.stdout
    assert orjson.loads(run("token", "list", "--json").stdout) == []


def test_cli_revoke_of_an_unknown_key_fails_cleanly(run: Callable[..., Result]) -> None:
    result = run("token", "revoke", "abcdef", ok=False)
    assert result.exit_code == 2 and result.stderr.startswith("error: ")


# -- the rate limiter's buckets -----------------------------------------------------------


class Seconds:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_buckets_allow_the_rate_then_ask_to_wait_and_refill() -> None:
    t = Seconds()
    b = TokenBuckets(6, per=60.0, clock=t)  # one every 10 s
    assert [b.take("a") for _ in range(6)] == [0.0] * 6
    assert b.take("a") == pytest.approx(10.0)
    assert b.take("b") == 0.0  # per key
    t.now += 10
    assert b.take("a") == 0.0 and b.take("a") > 0
    b.spend("c")
    assert b.wait("c") == 0.0
    for _ in range(10):
        b.spend("c")
    assert b.wait("c") == pytest.approx(10.0)


def test_buckets_forget_old_keys_within_their_bound() -> None:
    t = Seconds()
    b = TokenBuckets(2, clock=t, max_keys=100)
    for i in range(1000):
        b.spend(f"k{i}")
    assert len(b._buckets) <= 100


# -- JSON depth ---------------------------------------------------------------------------

_json = st.recursive(
    st.none() | st.integers() | st.text(alphabet='[]{}"\\ab,:'),
    lambda kids: (
        st.lists(kids, max_size=3) | st.dictionaries(st.text('[]{}"\\k'), kids, max_size=3)
    ),
    max_leaves=40,
)


def _depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    return 0


@settings(max_examples=300, deadline=None)
@given(_json)
def test_json_depth_matches_the_parsed_document(value: object) -> None:
    data = json.dumps(value).encode()
    assert json_depth(data) == _depth(value)


def test_json_depth_across_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    import cmdb.web.jsondepth as jd

    doc = json.dumps([{'a\\"[': ["\\\\", [[{"b": "]]]"}]]]}]).encode()
    expected = json_depth(doc)
    for size in (1, 2, 3, 5, 7):
        monkeypatch.setattr(jd, "_CHUNK", size)
        assert json_depth(doc) == expected == 6


def test_too_deep_only_measures_what_looks_like_json() -> None:
    assert too_deep(b"[" * 65 + b"]" * 65, 64)
    assert not too_deep(b"[" * 64 + b"]" * 64, 64)
    assert not too_deep(b"name: [[[[[[", 3)  # not JSON: left to its parser
    assert too_deep(b'  {"a": ' * 10 + b"1" + b"}" * 10, 9)


# -- the memory of recently verified tokens ------------------------------------------------


def test_a_verified_token_is_remembered_and_a_forged_one_never(tokens: TokenStore) -> None:
    clear, _ = tokens.create("ops", Role.VIEWER)
    assert tokens.recently_verified(clear) is None  # never checked yet
    principal = tokens.authenticate(clear)
    assert tokens.recently_verified(clear) == principal
    forged = clear[:-1] + ("A" if clear[-1] != "A" else "B")
    assert tokens.recently_verified(forged) is None
    with pytest.raises(Unauthenticated):
        tokens.authenticate(forged)


def test_revoking_through_the_same_store_forgets_at_once(tokens: TokenStore) -> None:
    clear, info = tokens.create("ops", Role.VIEWER)
    tokens.authenticate(clear)
    tokens.revoke(info.key)
    assert tokens.recently_verified(clear) is None
    with pytest.raises(Unauthenticated):
        tokens.authenticate(clear)


def test_another_process_revoking_takes_effect_after_the_memory_lapses(
    tmp_path: Path, clock: FakeClock
) -> None:
    server = TokenStore(tmp_path / "t.db", clock=clock, cache_s=0.05)
    cli = TokenStore(tmp_path / "t.db", clock=clock)  # e.g. `cmdb token revoke`
    clear, info = server.create("ops", Role.VIEWER)
    server.authenticate(clear)
    cli.revoke(info.key)
    assert server.recently_verified(clear) is not None  # within cache_s: still remembered
    time.sleep(0.06)
    assert server.recently_verified(clear) is None
    with pytest.raises(Unauthenticated):
        server.authenticate(clear)


def test_a_remembered_token_still_expires_on_time(tokens: TokenStore, clock: FakeClock) -> None:
    clear, _ = tokens.create("ops", Role.VIEWER, expires_at=clock.now + timedelta(minutes=1))
    tokens.authenticate(clear)
    clock.advance(minutes=2)
    assert tokens.recently_verified(clear) is None
    with pytest.raises(Unauthenticated, match="expired"):
        tokens.authenticate(clear)
