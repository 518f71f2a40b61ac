"""The API's own state on both stores: tokens and rate-limit buckets.

With the embedded store they are a SQLite file and process memory; with Neo4j they are
nodes on the database, so that several server processes agree. The same tests hold on
both: a token store is done when both pass, and the shared buckets mean what the
in-memory ones mean.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from cmdb.auth.backends import tokens_for
from cmdb.auth.roles import Role
from cmdb.auth.tokens import BaseTokenStore, TokenStore, Unauthenticated
from cmdb.config import Settings
from cmdb.domain.errors import InvalidInput, NotFound
from cmdb.store.contract import GraphStore
from cmdb.web.ratelimit import Buckets, TokenBuckets
from tests.fakes import FakeClock


@pytest.fixture
def make_tokens(
    store: GraphStore, tmp_path: Path, clock: FakeClock
) -> Callable[..., BaseTokenStore]:
    """A token store of the test's kind (``cache_s`` as asked); every one made here sees
    the same tokens, as two processes would."""
    settings = Settings(tokens_path=tmp_path / "tokens.db")

    def make(cache_s: float = 5.0) -> BaseTokenStore:
        made = tokens_for(store, settings.model_copy(update={"token_cache_s": cache_s}))
        made._clock = clock
        return made

    return make


def test_tokens_live_where_the_store_lives(
    store: GraphStore, make_tokens: Callable[..., BaseTokenStore]
) -> None:
    tokens = make_tokens()
    if store.kind == "neo4j":
        assert type(tokens).__name__ == "Neo4jTokenStore"
    else:
        assert isinstance(tokens, TokenStore)


def test_a_token_made_in_one_process_works_in_another(
    make_tokens: Callable[..., BaseTokenStore],
) -> None:
    one, two = make_tokens(), make_tokens()
    clear, info = one.create("desk", Role.VIEWER, services=("ci_1", "ci_2"))
    who = two.authenticate(clear)
    assert (who.name, who.role, who.services, who.token_key) == (
        "desk",
        Role.VIEWER,
        ("ci_1", "ci_2"),
        info.key,
    )
    assert [t.key for t in two.list()] == [info.key]
    assert two.get(info.key) == info


def test_forged_unknown_and_malformed_tokens_are_refused(
    make_tokens: Callable[..., BaseTokenStore],
) -> None:
    tokens = make_tokens()
    clear, info = tokens.create("desk", Role.VIEWER)
    for bad in (
        clear[:-1] + ("A" if clear[-1] != "A" else "B"),
        f"cmdb_{'0' * 12}_{clear.split('_', 2)[2]}",
        "cmdb_nonsense",
        "",
        None,
    ):
        with pytest.raises(Unauthenticated):
            tokens.authenticate(bad)
    with pytest.raises(NotFound):
        tokens.get("ffffffffffff")
    with pytest.raises(NotFound):
        tokens.revoke("ffffffffffff")
    with pytest.raises(InvalidInput):
        tokens.create(" ", Role.VIEWER)
    assert [t.key for t in tokens.list()] == [info.key]


def test_revocation_reaches_another_process_within_its_cache(
    make_tokens: Callable[..., BaseTokenStore], clock: FakeClock
) -> None:
    server = make_tokens(cache_s=0.2)
    cli = make_tokens(cache_s=0)
    clear, info = cli.create("ops", Role.ADMIN)
    server.authenticate(clear)
    revoked = cli.revoke(info.key)
    assert revoked.revoked_at == clock.now
    assert cli.revoke(info.key).revoked_at == clock.now  # twice: the first instant stays
    assert server.recently_verified(clear) is not None  # within cache_s
    deadline = threading.Event()
    deadline.wait(0.25)
    assert server.recently_verified(clear) is None
    with pytest.raises(Unauthenticated):
        server.authenticate(clear)
    assert [t.revoked_at for t in server.list()] == [clock.now]


def test_expiry_holds_on_every_process(
    make_tokens: Callable[..., BaseTokenStore], clock: FakeClock
) -> None:
    one, two = make_tokens(), make_tokens()
    clear, _ = one.create("ops", Role.VIEWER, expires_at=clock.now + timedelta(minutes=1))
    assert two.authenticate(clear).name == "ops"
    clock.advance(minutes=2)
    with pytest.raises(Unauthenticated, match="expired"):
        two.authenticate(clear)


def test_tokens_are_listed_in_creation_order(
    make_tokens: Callable[..., BaseTokenStore], clock: FakeClock
) -> None:
    tokens = make_tokens()
    keys = []
    for name in ("a", "b", "c"):
        keys.append(tokens.create(name, Role.VIEWER)[1].key)
        clock.advance(1)
    assert [t.key for t in tokens.list()] == keys


# -- rate-limit buckets ----------------------------------------------------------------------


class Seconds:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _buckets(
    store: GraphStore,
    rate: int,
    clock: Seconds,
    name: str = "credentials",
    ticks: Callable[[], float] | None = None,
) -> Buckets:
    if store.kind == "neo4j":
        from cmdb.web.shared_limits import Neo4jBuckets

        driver = getattr(store, "driver")  # noqa: B009
        if ticks is not None:
            return Neo4jBuckets(driver, name, rate, clock=clock, ticks=ticks)
        return Neo4jBuckets(driver, name, rate, clock=clock)
    return TokenBuckets(rate, clock=clock)


def test_buckets_allow_the_rate_then_ask_to_wait_and_refill(store: GraphStore) -> None:
    t = Seconds()
    b = _buckets(store, 6, t)  # one every 10 s
    assert [b.take("a") for _ in range(6)] == [0.0] * 6
    assert b.take("a") == pytest.approx(10.0)
    assert b.wait("a") == pytest.approx(10.0)
    assert b.take("b") == 0.0  # per key
    t.now += 10
    assert b.take("a") == 0.0 and b.take("a") > 0
    assert b.wait("c") == 0.0  # never seen
    b.spend("c")
    assert b.wait("c") == 0.0
    for _ in range(10):
        b.spend("c")
    assert b.wait("c") == pytest.approx(10.0)
    t.now += 3600
    assert b.wait("c") == 0.0 and b.take("c") == 0.0  # refilled, never above the rate


def test_shared_buckets_are_one_limit_for_every_process(store: GraphStore) -> None:
    """Two processes' limiters (and several threads each) on one key: the rate, exactly."""
    t = Seconds()
    rate = 20
    one, two = _buckets(store, rate, t), _buckets(store, rate, t)
    granted: list[float] = []
    lock = threading.Lock()

    def hammer(b: Buckets) -> None:
        for _ in range(10):
            w = b.take("203.0.113.9")
            with lock:
                granted.append(w)

    if store.kind == "neo4j":  # the in-memory buckets are not shared between threads
        threads = [threading.Thread(target=hammer, args=(b,)) for b in (one, two, one, two)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    else:
        for b in (one, two, one, two):
            hammer(b)
    if store.kind == "neo4j":
        assert granted.count(0.0) == rate  # 40 tries, 20 granted: none lost, none extra
    else:
        # In memory, each process has its own bucket: the limit is per process.
        assert granted.count(0.0) == 2 * rate


def test_credential_and_failure_buckets_are_apart(store: GraphStore) -> None:
    t = Seconds()
    creds, fails = _buckets(store, 1, t, "credentials"), _buckets(store, 1, t, "failures")
    assert creds.take("x") == 0.0
    assert fails.wait("x") == 0.0 and fails.take("x") == 0.0


def test_full_buckets_are_forgotten(store: GraphStore) -> None:
    """A full bucket holds no state: the shared ones are deleted (at most once a minute per
    process); the in-memory ones are pruned when there are too many keys."""
    t = Seconds()
    b = _buckets(store, 2, t)
    b.spend("old")
    t.now += 3600  # "old" is long full again
    b.spend("new")
    assert b.wait("old") == 0.0 and b.wait("new") == 0.0
    if store.kind == "neo4j":
        driver = getattr(store, "driver")  # noqa: B009
        records, _, _ = driver.execute_query("MATCH (b:RateBucket) RETURN b.key AS key")
        assert [r["key"] for r in records] == ["credentials:new"]


def test_a_clear_answer_is_kept_a_moment_and_never_a_blocked_one(store: GraphStore) -> None:
    """Every request asks its address's failures bucket; a process keeps "no wait" for up
    to CLEAR_FOR_S (no I/O), forgets it when it spends on the key itself, and keeps no
    blocked answer: another process's failures reach it within CLEAR_FOR_S."""
    t, tick = Seconds(), Seconds()
    here = _buckets(store, 2, t, "failures", ticks=tick)
    there = _buckets(store, 2, t, "failures", ticks=tick)
    assert not here.known_clear("a")
    assert here.wait("a") == 0.0
    if store.kind != "neo4j":
        assert not here.known_clear("a")  # in memory, wait() is the answer, every time
        return
    from cmdb.web.shared_limits import CLEAR_FOR_S

    assert here.known_clear("a")
    there.spend("a")
    there.spend("a")  # another process empties it
    assert here.known_clear("a")  # within the moment: still clear here
    tick.now += CLEAR_FOR_S
    assert not here.known_clear("a")
    assert here.wait("a") > 0 and not here.known_clear("a")  # blocked: asked every time
    t.now += 3600
    assert here.wait("a") == 0.0 and here.known_clear("a")
    here.spend("a")  # its own failure: forgotten at once
    assert not here.known_clear("a")
