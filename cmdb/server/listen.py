"""How ``cmdb serve`` listens: under several workers on Linux, each worker its own socket.

uvicorn's ``--workers`` binds one listening socket in the parent and every worker accepts
from it. A worker that wakes first accepts all the connections waiting (asyncio and uvloop
drain the queue in one go), so clients that connect together and keep their connections
open (a proxy's pool, the service desk's browsers, 50 readers in bench/api_load.py) can
all land on one worker while the others idle: in the load benchmark one of two workers
held all 50 connections in some runs, and the server then used under one core of two.

On Linux each worker binds a socket of its own to the same address with ``SO_REUSEPORT``,
and the kernel spreads new connections over them by a hash of each connection's
addresses. uvicorn's supervisor (start, health checks, restarts, signals) is kept: it
hands each worker process a placeholder that, unpickled in the worker (uvicorn starts
workers with ``spawn``), is that worker's freshly bound socket. Elsewhere (macOS and the
BSDs accept ``SO_REUSEPORT`` but do not balance with it, Windows lacks it) and for one
process or ``--reload``, uvicorn runs as it is.
"""

from __future__ import annotations

import logging
import socket
import sys
from typing import Any

import uvicorn

log = logging.getLogger("uvicorn.error")


def balancing() -> bool:
    """Whether the kernel spreads connections over ``SO_REUSEPORT`` sockets (Linux)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` in a ``SO_REUSEPORT`` group, not yet listening
    (the worker's server listens on it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


class OwnSocket:
    """Stands for a listening socket in what uvicorn hands each worker: pickled, it is a
    call that binds a new socket, so every worker (and every restarted one) has its own."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port

    def __reduce__(self) -> tuple[Any, tuple[str, int]]:
        return bind, (self.host, self.port)


def run(target: Any, **options: Any) -> None:
    """``uvicorn.run(target, **options)``, with a socket per worker where that balances."""
    if options.get("workers", 1) > 1 and not options.get("reload") and balancing():
        balanced(target, **options)
    else:
        uvicorn.run(target, **options)


def balanced(target: str, *, host: str, port: int, **options: Any) -> None:
    """uvicorn's supervisor over workers that each listen on their own socket."""
    from uvicorn.supervisors import Multiprocess

    # Bound here first: a port in use fails now, with uvicorn's words, not in every worker
    # over and over; port 0 becomes the one port all workers share. Kept open (it never
    # listens, so it is given no connections) to hold the port for the group.
    config = uvicorn.Config(target, host=host, port=port, **options)
    try:
        held = bind(host, port)
    except OSError as exc:
        log.error(exc)
        sys.exit(1)
    with held:
        port = held.getsockname()[1]
        log.info(
            "Uvicorn running on %s:%d (%d workers, each on its own socket; press CTRL+C to quit)",
            host,
            port,
            config.workers,
        )
        listener: Any = OwnSocket(host, port)
        Multiprocess(config, sockets=[listener]).run()
