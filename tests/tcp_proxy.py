"""A loopback TCP proxy that cuts a Bolt connection around a transaction's COMMIT.

Bolt frames messages in chunks (2-byte length, payload, ``00 00`` end marker); COMMIT is a
struct with no fields and signature 0x12, so on the wire it is ``00 02 B0 12 00 00``.
Armed with ``before_commit`` the proxy drops the COMMIT and closes both sides (the server
never commits); with ``after_commit`` it forwards the COMMIT and closes before the
server's answer reaches the client (the server has committed, the client cannot know).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType

COMMIT = b"\x00\x02\xb0\x12\x00\x00"


class BoltCutProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port: int = self._listener.getsockname()[1]
        self._mode: str | None = None
        self._lock = threading.Lock()
        self.cuts = 0
        self._closing = False
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> BoltCutProxy:
        self._thread.start()
        return self

    def __exit__(
        self,
        et: type[BaseException] | None,
        ev: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._closing = True
        self._listener.close()

    def arm(self, mode: str) -> None:
        """Cut the next COMMIT seen (once)."""
        assert mode in ("before_commit", "after_commit")
        with self._lock:
            self._mode = mode

    def _take(self) -> str | None:
        with self._lock:
            mode, self._mode = self._mode, None
            return mode

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            state = {"drop_reply": False}
            threading.Thread(target=self._up, args=(client, server, state), daemon=True).start()
            threading.Thread(target=self._down, args=(server, client, state), daemon=True).start()

    def _cut(self, a: socket.socket, b: socket.socket) -> None:
        with self._lock:
            self.cuts += 1
        for s in (a, b):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def _up(self, client: socket.socket, server: socket.socket, state: dict[str, bool]) -> None:
        try:
            while data := client.recv(65536):
                if COMMIT in data:
                    mode = self._take()
                    if mode == "before_commit":
                        self._cut(client, server)
                        return
                    if mode == "after_commit":
                        state["drop_reply"] = True
                server.sendall(data)
        except OSError:
            pass
        finally:
            server.close()

    def _down(self, server: socket.socket, client: socket.socket, state: dict[str, bool]) -> None:
        try:
            while data := server.recv(65536):
                if state["drop_reply"]:
                    self._cut(client, server)
                    return
                client.sendall(data)
        except OSError:
            pass
        finally:
            client.close()
