"""A command imports only what it uses (house rule 12): a person waits for every start.

Each check runs the CLI in a fresh interpreter, as a person's shell does, and reads which
heavy libraries ended up in ``sys.modules``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from cmdb.domain.changeset import ChangeSet, CIUpsert
from cmdb.domain.identifiers import Identifier
from cmdb.store.embedded.store import EmbeddedStore

# Only `serve` needs the web stack; only the Neo4j store needs its driver; only a
# traversal needs numpy.
SERVER_ONLY = ("fastapi", "starlette", "strawberry", "uvicorn", "neo4j")

_PROBE = """
import json, sys
from cmdb.cli import app
try:
    app(sys.argv[1:], standalone_mode=False)
finally:
    sys.stdout.flush()
    print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})), file=sys.stderr)
"""


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli-start") / "cmdb.db"
    store = EmbeddedStore(path)
    try:
        store.apply(
            ChangeSet(
                actor="test",
                source="manual",
                request_id="r-1",
                ci_upserts=[
                    CIUpsert(
                        ci_class="Server",
                        name="srv-01",
                        identifiers=[Identifier(kind="serial", value="X-1")],
                    )
                ],
            )
        )
    finally:
        store.close()
    return path


def _modules_after(db: Path, *args: str, says: str = "srv-01") -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, "--db", str(db), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"CMDB_STORE": "embedded", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert says in done.stdout, done.stdout
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("ci", "show", "srv-01"), "srv-01"),
        (("counts",), "Server"),
        (("ci", "list"), "srv-01"),
        (("db", "check"), "schema ok"),
    ],
)
def test_a_command_leaves_the_server_stack_and_driver_unimported(
    db: Path, args: tuple[str, ...], says: str
) -> None:
    loaded = _modules_after(db, *args, says=says)
    assert "cmdb" in loaded  # the probe did run the CLI
    assert loaded.isdisjoint(SERVER_ONLY), sorted(loaded & set(SERVER_ONLY))


def test_reading_a_ci_needs_no_graph_index(db: Path) -> None:
    assert "numpy" not in _modules_after(db, "ci", "show", "srv-01")


def test_serve_still_finds_its_stack() -> None:
    # The lazy table points at real attributes: `serve` resolves to the server command.
    from typer.main import get_command

    from cmdb.cli import app
    from cmdb.cli._lazy import LazyGroup

    root = get_command(app)
    assert isinstance(root, LazyGroup)
    ctx = typer.Context(root)
    names = root.list_commands(ctx)
    assert {"ci", "counts", "serve", "discover", "runs", "import"} <= set(names)
    for name in names:
        assert root.get_command(ctx, name) is not None, name
    serve = root.get_command(ctx, "serve")
    assert serve is not None and serve.callback is not None
    assert serve.callback.__module__ == "cmdb.server.serve"
    # The web stack itself is imported when the server starts, not to list the command.
    import cmdb.server.serve as serve_module

    assert "uvicorn" in serve_module.serve.__code__.co_names
