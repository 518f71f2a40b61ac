"""The webhook worker's HTTP transport: the address a connection reaches is checked.

``check_url`` resolves a rule's host before each attempt, but the HTTP client resolves it
again when it connects, so a name could pass the check and then point at 127.0.0.1 (DNS
rebinding, reliability 22). Here the check is made on the connection itself: an httpcore
network backend (the extension point httpcore's ``ConnectionPool(network_backend=...)``
offers) opens each TCP connection as usual, reads the peer address the socket actually
reached, and closes it before any byte is sent (before TLS too) when that address is
internal and ``CMDB_WEBHOOKS_ALLOW_PRIVATE`` does not allow it. The check and the connect
cannot disagree, since they look at the same socket.

An httpx transport (``httpx.BaseTransport``, httpx's documented way to plug in) wraps that
pool, so the worker keeps using an ordinary ``httpx.Client``. Proxies from the environment
do not apply (a proxy's address would be the only one seen).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

import httpcore
import httpx

from cmdb.app.webhooks import internal_address


class InternalAddressRefused(httpcore.ConnectError):
    """The connection reached an internal address that the settings do not allow."""


class CheckedBackend(httpcore.NetworkBackend):
    """The synchronous backend, refusing connections whose peer is an internal address."""

    def __init__(self, *, allow_private: bool, inner: httpcore.NetworkBackend | None = None):
        self.allow_private = allow_private
        self.inner = inner or httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self.inner.connect_tcp(
            host,
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )
        if self.allow_private:
            return stream
        try:
            peer = stream.get_extra_info("server_addr")
            addr = ipaddress.ip_address(str(peer[0]).split("%")[0])
        except (TypeError, ValueError, IndexError, OSError) as exc:
            stream.close()
            raise InternalAddressRefused(
                f"cannot tell which address {host} reached ({exc}); refused"
            ) from exc
        if internal_address(addr):
            stream.close()
            raise InternalAddressRefused(
                f"{host} reached {addr} when connecting, a private, loopback or link-local"
                " address (refused before sending; set CMDB_WEBHOOKS_ALLOW_PRIVATE=true"
                " to allow it)"
            )
        return stream

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise InternalAddressRefused("webhooks are not sent to unix sockets")

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


def _httpx_error(exc: Exception) -> httpx.TransportError:
    """httpcore's exception as httpx's of the same name (httpx names them alike)."""
    kind = getattr(httpx, type(exc).__name__, None)
    if isinstance(exc, InternalAddressRefused):
        kind = httpx.ConnectError
    if isinstance(kind, type) and issubclass(kind, httpx.TransportError):
        return kind(str(exc))
    return httpx.TransportError(str(exc))


class CheckedTransport(httpx.BaseTransport):
    """An httpx transport over a connection pool with the checked backend."""

    def __init__(self, *, allow_private: bool, verify: bool = True) -> None:
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify),
            network_backend=CheckedBackend(allow_private=allow_private),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = httpcore.URL(
            scheme=request.url.raw_scheme,
            host=request.url.raw_host,
            port=request.url.port,
            target=request.url.raw_path,
        )
        try:
            # A webhook answer is read whole: only its status matters, and reading it
            # here returns the connection to the pool.
            resp = self._pool.request(
                request.method,
                url,
                headers=request.headers.raw,
                content=request.read(),
                extensions=request.extensions,
            )
        except httpcore.UnsupportedProtocol as exc:
            raise httpx.UnsupportedProtocol(str(exc)) from exc
        except (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError) as exc:
            raise _httpx_error(exc) from exc
        return httpx.Response(
            status_code=resp.status,
            headers=resp.headers,
            content=resp.content,
            extensions={k: v for k, v in resp.extensions.items() if k != "network_stream"},
        )

    def close(self) -> None:
        self._pool.close()
