"""A real server for browser tests: uvicorn on 127.0.0.1 (a free port) in a thread, over a
temporary embedded store holding the sample estate, and Debian's Chromium driven by
Playwright (never ``playwright install``: the machines are offline).

Locally a missing Chromium skips these tests with the reason; in CI (``CI`` set) it fails
them, so the browser test can never silently not run. ``make test`` installs Chromium first
(the ``test-browser`` target).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from cmdb.auth.roles import Role
from cmdb.auth.tokens import TokenStore
from cmdb.config import Settings
from cmdb.sample.load import load_sample
from cmdb.server.app import create_app
from cmdb.store.factory import open_store

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@dataclass
class Server:
    url: str
    settings: Settings
    tokens: TokenStore


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_server(tmp: Path, *, auth_disabled: bool) -> Iterator[Server]:
    settings = Settings(
        db_path=tmp / "e2e.db", tokens_path=tmp / "tokens.db", auth_disabled=auth_disabled
    )
    store = open_store(settings)
    load_sample(store, actor="e2e-setup")
    tokens = TokenStore(settings.tokens_path)
    app = create_app(settings, store=store, tokens=tokens)
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="e2e-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield Server(f"http://127.0.0.1:{port}", settings, tokens)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        store.close()


@pytest.fixture(scope="module")
def local_dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from start_server(tmp_path_factory.mktemp("e2e-dev"), auth_disabled=True)


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from start_server(tmp_path_factory.mktemp("e2e-auth"), auth_disabled=False)


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not CHROMIUM.exists() and not shutil.which("chromium"):
        reason = f"Debian's chromium is not installed at {CHROMIUM} (make test-browser installs it)"
        if os.environ.get("CI"):
            pytest.fail(reason + "; in CI the browser test must run", pytrace=False)
        pytest.skip(reason)
    return CHROMIUM if CHROMIUM.exists() else Path(str(shutil.which("chromium")))


@pytest.fixture(scope="session")
def browser(chromium_path: Path) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def viewer_token(server: Server) -> str:
    clear, _ = server.tokens.create("e2e-viewer", Role.VIEWER)
    return clear
