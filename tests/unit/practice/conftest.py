"""The command-line practice tests' fixtures: the sample estate loaded once per module into
a temporary embedded store, and ``run``, the CLI on a fresh copy of it for each test."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from cmdb.cli import app

Run = Callable[..., Result]
ENV = {"CMDB_STORE": "embedded", "CMDB_ACTOR": "tester", "COLUMNS": "200"}


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample estate loaded once, without its year of history (these tests write
    their own records); each test works on its own copy."""
    folder = tmp_path_factory.mktemp("sample")
    result = CliRunner().invoke(
        app, ["--db", str(folder / "cli.db"), "sample", "load", "--no-history"], env=ENV
    )
    assert result.exit_code == 0, result.output
    return folder


@pytest.fixture
def run(tmp_path: Path, sample_db: Path) -> Run:
    """``run(*args, ok=True)``: the CLI on this test's copy; ``ok``: it must exit 0."""
    runner = CliRunner()
    for f in sample_db.iterdir():
        shutil.copy(f, tmp_path / f.name)

    def invoke(*args: str, ok: bool = True) -> Result:
        result = runner.invoke(app, ["--db", str(tmp_path / "cli.db"), *args], env=ENV)
        if ok:
            assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
        return result

    return invoke
