"""DNS rebinding (reliability 22): the worker checks the address each connection reaches,
not only what a name resolved to when ``check_url`` looked. A name that ``check_url`` is
told is public but that reaches the loopback receiver when connecting is refused before
any byte is sent, and the delivery says why; the setting allows it."""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpcore
import httpx
import pytest

from cmdb.app import webhooks
from cmdb.app.caller import Caller
from cmdb.app.webhook_delivery import Worker, WorkerConfig
from cmdb.app.webhook_transport import CheckedBackend, CheckedTransport, InternalAddressRefused
from cmdb.auth.roles import Role
from cmdb.auth.tokens import Principal
from cmdb.domain.changeset import ChangeSet
from cmdb.domain.events import DeliveryState
from cmdb.store.embedded.store import EmbeddedStore
from tests.webhook_receiver import Receiver

ADMIN = Caller(Principal("admin", Role.ADMIN), "req-1", "api")
PUBLIC = ipaddress.ip_address("93.184.215.14")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EmbeddedStore]:
    s = EmbeddedStore(tmp_path / "cmdb.db")
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def resolves_public(monkeypatch: pytest.MonkeyPatch) -> None:
    """check_url's resolver says every name is public; the connection still resolves
    through the system (localhost -> 127.0.0.1): a name rebound between check and
    connect."""
    monkeypatch.setattr(webhooks, "_addresses", lambda host, port: [PUBLIC])


def _server(name: str) -> ChangeSet:
    return ChangeSet.model_validate(
        {
            "actor": "tester",
            "source": "manual",
            "ci_upserts": [
                {"class": "Server", "name": name, "identifiers": [{"kind": "key", "value": name}]}
            ],
        }
    )


def _by_name(url: str) -> str:
    """The receiver's URL with ``localhost`` for its address."""
    return f"http://localhost:{urlsplit(url).port}/hook"


@pytest.mark.usefixtures("resolves_public")
def test_a_name_reaching_loopback_at_connect_time_is_refused(store: EmbeddedStore) -> None:
    with Receiver().running() as rx:
        url = _by_name(rx.url)
        assert webhooks.check_url(url, allow_private=False) == url  # the check is fooled
        rule = webhooks.create_rule(store, ADMIN, url=url, events=["ci.created"])
        store.apply(_server("web-1"))
        worker = Worker(store, WorkerConfig(allow_private=False, max_attempts=1))
        try:
            result = worker.run_once()
        finally:
            worker.close()
        assert (result.delivered, result.failed) == (0, 1)
        assert rx.received == []
    (d,) = store.list_deliveries(rule.id)
    assert d.state is DeliveryState.FAILED and d.attempts == 1
    error = d.log[0].error or ""
    assert "ConnectError" in error and "127.0.0.1" in error
    assert "CMDB_WEBHOOKS_ALLOW_PRIVATE" in error


@pytest.mark.usefixtures("resolves_public")
def test_the_setting_allows_it(store: EmbeddedStore) -> None:
    with Receiver().running() as rx:
        rule = webhooks.create_rule(store, ADMIN, url=_by_name(rx.url), events=["ci.created"])
        store.apply(_server("web-1"))
        worker = Worker(store, WorkerConfig(allow_private=True, max_attempts=1))
        try:
            assert worker.run_once().delivered == 1
        finally:
            worker.close()
        (got,) = rx.wait_for(1)
    assert got.headers["webhook-id"].endswith(f".{rule.id}")
    (d,) = store.list_deliveries(rule.id)
    assert d.state is DeliveryState.DELIVERED


def test_no_byte_is_sent_to_a_refused_address() -> None:
    # A bare TCP listener: what the refused connection sent, byte for byte (nothing).
    got: list[bytes] = []
    with socket.create_server(("127.0.0.1", 0)) as srv:
        srv.settimeout(5)

        def accept() -> None:
            conn, _ = srv.accept()
            with conn:
                conn.settimeout(5)
                while chunk := conn.recv(1024):
                    got.append(chunk)

        t = threading.Thread(target=accept, daemon=True)
        t.start()
        port = srv.getsockname()[1]
        client = httpx.Client(transport=CheckedTransport(allow_private=False))
        with client, pytest.raises(httpx.ConnectError, match=r"127\.0\.0\.1"):
            client.post(f"http://127.0.0.1:{port}/hook", content=b"secret event")
        t.join(5)
    assert not t.is_alive() and got == []


def test_a_public_peer_passes_the_check() -> None:
    # The check reads the socket's peer: a (fake) backend whose stream says it reached a
    # public address is let through, one reaching a private one is not.

    class Stream(httpcore.NetworkStream):
        def __init__(self, peer: str) -> None:
            self.peer, self.closed = peer, False

        def get_extra_info(self, info: str) -> object:
            return (self.peer, 443) if info == "server_addr" else None

        def close(self) -> None:
            self.closed = True

    class Inner(httpcore.NetworkBackend):
        def __init__(self, peer: str) -> None:
            self.stream = Stream(peer)

        def connect_tcp(
            self,
            host: str,
            port: int,
            timeout: float | None = None,
            local_address: str | None = None,
            socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
        ) -> httpcore.NetworkStream:
            return self.stream

    public = Inner("93.184.215.14")
    assert CheckedBackend(allow_private=False, inner=public).connect_tcp("x", 443) is public.stream
    private = Inner("10.1.2.3")
    with pytest.raises(InternalAddressRefused, match=r"10\.1\.2\.3"):
        CheckedBackend(allow_private=False, inner=private).connect_tcp("x", 443)
    assert private.stream.closed
