"""API fixtures: an app over a fresh store of each kind, and a bearer token per role.

``api`` runs a test once per store (embedded and the real Neo4j); ``api_embedded`` only
on the embedded store, for tests about HTTP itself (limits, auth, errors) rather than data.
The sample estate (Saltmarsh Ferries) is loaded into every store, so tests ask about real
services by name.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cmdb.auth.roles import Role
from cmdb.auth.tokens import TokenStore
from cmdb.config import Settings
from cmdb.sample.load import load_sample
from cmdb.server.app import create_app
from cmdb.store.contract import GraphStore
from cmdb.store.embedded.store import EmbeddedStore
from tests.contract.conftest import STORE_FACTORIES, STORE_MARKS
from tests.fakes import FakeClock


@dataclass
class Api:
    """A running app (``client``), its store, and a header set per role."""

    client: TestClient
    app: FastAPI
    store: GraphStore
    tokens: TokenStore
    settings: Settings
    kind: str
    headers: dict[str, dict[str, str]] = field(default_factory=dict)

    def as_role(self, role: Role | str) -> dict[str, str]:
        return self.headers[Role(role).value]

    def token_for(
        self, role: Role, *, services: tuple[str, ...] = (), name: str = "test"
    ) -> dict[str, str]:
        clear, _ = self.tokens.create(name, role, services=services)
        return {"Authorization": f"Bearer {clear}"}


@dataclass(frozen=True)
class _Made:
    """A store or tokens file made once per test process, copied into each test's
    directory: an app's set-up paid the same SQLite writes (and their fsyncs) per test."""

    files: Path
    headers: dict[str, dict[str, str]]


def _copy_files(made: _Made, into: Path) -> None:
    for file in made.files.iterdir():
        shutil.copyfile(file, into / file.name)


@pytest.fixture(scope="session")
def _role_tokens(tmp_path_factory: pytest.TempPathFactory) -> _Made:
    """A token per role, made through TokenStore.create as a test's own would be."""
    files = tmp_path_factory.mktemp("api-tokens")
    tokens = TokenStore(files / "tokens.db")
    headers: dict[str, dict[str, str]] = {}
    for role in Role:
        clear, _ = tokens.create(f"test-{role.value}", role)
        headers[role.value] = {"Authorization": f"Bearer {clear}"}
    return _Made(files, headers)


@pytest.fixture(scope="session")
def _embedded_sample(tmp_path_factory: pytest.TempPathFactory) -> _Made:
    """An embedded store file holding the sample estate, loaded as make_api loads it (the
    FakeClock never moves by itself, so every timestamp is what a per-test load writes)."""
    files = tmp_path_factory.mktemp("api-embedded-sample")
    store = EmbeddedStore(files / "cmdb.db", clock=FakeClock())
    load_sample(store, actor="test-setup")
    store.close()  # the last connection checkpoints the WAL into the file
    return _Made(files, {})


def make_api(
    kind: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    *,
    sample: bool = True,
    **overrides: object,
) -> Iterator[Api]:
    clock = FakeClock()
    path = tmp_path / f"api-{kind}"
    path.mkdir()
    # The embedded store's factory opens path/cmdb.db: a copy of the loaded sample, where
    # one is wanted, is the same store a load here would write (ids aside, which the tests
    # look up by name).
    if sample and kind == "embedded":
        _copy_files(request.getfixturevalue("_embedded_sample"), path)
    store = STORE_FACTORIES[kind](path, clock, request)
    if sample and kind != "embedded":
        load_sample(store, actor="test-setup")
    settings = Settings(db_path=path / "unused.db", tokens_path=path / "tokens.db", **overrides)  # type: ignore[arg-type]
    roles: _Made = request.getfixturevalue("_role_tokens")
    _copy_files(roles, path)
    tokens = TokenStore(settings.tokens_path)
    app = create_app(settings, store=store, tokens=tokens)
    with TestClient(app, raise_server_exceptions=False) as client:
        api = Api(client, app, store, tokens, settings, kind)
        api.headers.update({role: dict(h) for role, h in roles.headers.items()})
        yield api
    store.close()


@pytest.fixture(
    params=[pytest.param(k, id=k, marks=STORE_MARKS.get(k, ())) for k in STORE_FACTORIES]
)
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    yield from make_api(str(request.param), tmp_path, request)


@pytest.fixture
def api_embedded(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    yield from make_api("embedded", tmp_path, request)
