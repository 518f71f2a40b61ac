"""API fixtures: an app over a fresh store of each kind, and a bearer token per role.

``api`` runs a test once per store (embedded and the real Neo4j); ``api_embedded`` only
on the embedded store, for tests about HTTP itself (limits, auth, errors) rather than data.
The sample estate (Saltmarsh Ferries) is loaded into every store, so tests ask about real
services by name.
"""

from __future__ import annotations

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
    store = STORE_FACTORIES[kind](path, clock, request)
    if sample:
        load_sample(store, actor="test-setup")
    settings = Settings(db_path=path / "unused.db", tokens_path=path / "tokens.db", **overrides)  # type: ignore[arg-type]
    tokens = TokenStore(settings.tokens_path)
    app = create_app(settings, store=store, tokens=tokens)
    with TestClient(app, raise_server_exceptions=False) as client:
        api = Api(client, app, store, tokens, settings, kind)
        for role in Role:
            api.headers[role.value] = api.token_for(role, name=f"test-{role.value}")
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
