"""``cmdb serve`` and operations: JSON logs hand uvicorn a log config (and drop its
access log for cmdb.access); several workers get a fresh shared metrics directory for
the run, gone afterwards (uvicorn.run is replaced by a recorder: nothing listens)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner

from cmdb.cli import app
from cmdb.server import listen


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def record(target: Any, **kw: Any) -> None:
        shared = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        calls.append(
            {"app": target, "shared": shared, "exists": bool(shared and Path(shared).is_dir())} | kw
        )

    monkeypatch.setattr(uvicorn, "run", record)
    monkeypatch.setattr(listen, "balanced", record)  # several workers on Linux
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    return calls


def serve(tmp_path: Path, *args: str, **env: str) -> Any:
    base = {
        "CMDB_STORE": "embedded",
        "CMDB_DB_PATH": str(tmp_path / "s.db"),
        "CMDB_TOKENS_PATH": str(tmp_path / "t.db"),
        "COLUMNS": "200",
    }
    return CliRunner().invoke(app, ["serve", *args], env=base | env)


def test_text_logs_keep_uvicorns_config(tmp_path: Path, started: list[dict[str, Any]]) -> None:
    result = serve(tmp_path)
    assert result.exit_code == 0, result.output
    (call,) = started
    assert "log_config" not in call and call["log_level"] == "info"
    assert "http://127.0.0.1:8000/metrics" in result.stdout


def test_json_logs_give_uvicorn_the_json_config(
    tmp_path: Path, started: list[dict[str, Any]]
) -> None:
    result = serve(tmp_path, CMDB_LOG_FORMAT="json", CMDB_LOG_LEVEL="warning")
    assert result.exit_code == 0, result.output
    (call,) = started
    assert call["log_config"]["formatters"]["json"]["()"] == "cmdb.web.logs.JsonFormatter"
    assert call["access_log"] is False and call["log_level"] == "warning"


def test_workers_share_a_metrics_directory_for_the_run_only(
    tmp_path: Path, started: list[dict[str, Any]]
) -> None:
    result = serve(tmp_path, "--workers", "2")
    assert result.exit_code == 0, result.output
    (call,) = started
    assert call["workers"] == 2 and call["shared"] and call["exists"]
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ
    assert not Path(call["shared"]).exists()


def test_one_process_has_no_shared_directory(tmp_path: Path, started: list[dict[str, Any]]) -> None:
    assert serve(tmp_path).exit_code == 0
    assert started[0]["shared"] is None


def test_a_directory_given_by_hand_is_used_as_it_is(
    tmp_path: Path, started: list[dict[str, Any]]
) -> None:
    mine = tmp_path / "metrics"
    mine.mkdir()
    result = serve(tmp_path, "--workers", "2", PROMETHEUS_MULTIPROC_DIR=str(mine))
    assert result.exit_code == 0, result.output
    assert started[0]["shared"] == str(mine) and mine.is_dir()
