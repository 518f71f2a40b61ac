"""A process that serves (``cmdb serve``) settles its heap once the app is up; an app made
in a caller's process (the tests', an embedding program) leaves the collector alone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cmdb.server.app import GC_FIRST_GENERATION

# In a fresh interpreter: freezing the heap is for the whole process.
CODE = """
import gc, sys
from fastapi.testclient import TestClient
from cmdb.server.app import create_app, serving_app
before = gc.get_threshold()[0]
app = serving_app() if sys.argv[1] == "serving" else create_app()
with TestClient(app) as client:
    assert client.get("/api/v1/health").status_code == 200
    print(before, gc.get_threshold()[0], gc.get_freeze_count())
"""


def _thresholds(tmp_path: Path, kind: str) -> list[int]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CMDB_")},
        "CMDB_STORE": "embedded",
        "CMDB_DB_PATH": str(tmp_path / f"{kind}.db"),
        "CMDB_TOKENS_PATH": str(tmp_path / f"{kind}-tokens.db"),
    }
    done = subprocess.run(
        [sys.executable, "-c", CODE, kind], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return [int(x) for x in done.stdout.split()]


def test_a_serving_app_freezes_what_is_alive_and_collects_less_often(tmp_path: Path) -> None:
    before, after, frozen = _thresholds(tmp_path, "serving")
    assert before < GC_FIRST_GENERATION == after
    assert frozen > 10_000  # the modules, the routes and the store, out of every collection


def test_an_app_made_in_a_callers_process_leaves_the_collector_alone(tmp_path: Path) -> None:
    before, after, frozen = _thresholds(tmp_path, "caller")
    assert before == after and frozen == 0
