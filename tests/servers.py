"""Real servers for tests: started on 127.0.0.1, waited for, and always stopped.

Used by the end-to-end tests (a real Prometheus, Alertmanager, nginx in front of
``cmdb serve``) and by the integration tests that run ``cmdb serve`` itself. Each process
starts in a session of its own, so stopping it takes its children (uvicorn's workers)
with it. A Debian tool the test needs and the machine lacks skips the test locally with
the make target that installs it; in CI (``CI`` set) it fails, as the browser test does.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

SERVE = (sys.executable, "-m", "cmdb.cli", "serve")


@dataclass
class Proc:
    """A started server: its process, its base URL and the file its stderr goes to."""

    proc: subprocess.Popen[bytes]
    url: str
    stderr: Path


def debian_tool(names: Sequence[str], package: str, make_target: str) -> str:
    """The path of the first of ``names`` found on PATH (or in /usr/sbin), else a skip
    (locally) or a failure (in CI) naming the make target that installs ``package``."""
    for name in names:
        found = shutil.which(name) or (
            f"/usr/sbin/{name}" if os.access(f"/usr/sbin/{name}", os.X_OK) else None
        )
        if found is not None:
            return found
    reason = f"Debian's {package} is not installed (make {make_target} installs it)"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; in CI this test must run", pytrace=False)
    pytest.skip(reason)


# Made once: without ``verify``, every httpx.get builds a TLS context and loads the CA
# bundle (~20 ms of CPU), which wait_until paid ten times a second while a server started.
_TLS = httpx.create_ssl_context()


def answers(url: str) -> bool:
    """Does ``url`` answer 200 now?"""
    try:
        return httpx.get(url, timeout=2, verify=_TLS).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until(
    what: str, ok: Callable[[], bool], proc: Proc | None = None, timeout: float = 60
) -> None:
    """Poll ``ok`` until it holds; fail with the server's last stderr if it exits first
    or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while not ok():
        if proc is not None and proc.proc.poll() is not None:
            raise AssertionError(f"{what} exited: {proc.stderr.read_text()[-2000:]}")
        if time.monotonic() > deadline:
            tail = proc.stderr.read_text()[-2000:] if proc is not None else ""
            raise AssertionError(f"{what} not ready after {timeout} s: {tail}")
        time.sleep(0.1)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process (uvicorn's supervisor stops its workers), then SIGKILL to
    the process group it leads if anything is left."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=20)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


@contextlib.contextmanager
def started(
    what: str,
    argv: Sequence[str],
    *,
    port: int,
    ready_path: str,
    stderr: Path,
    env: dict[str, str] | None = None,
) -> Iterator[Proc]:
    """``argv`` (listening on 127.0.0.1:``port``) running until the block ends, once
    ``ready_path`` answers 200."""
    with stderr.open("wb") as err:
        proc = subprocess.Popen(
            list(argv),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
        )
    server = Proc(proc, f"http://127.0.0.1:{port}", stderr)
    try:
        wait_until(what, lambda: answers(f"{server.url}{ready_path}"), server)
        yield server
    finally:
        stop(proc)
