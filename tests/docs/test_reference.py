"""The generated reference pages (docs/gen_reference.py) cover what the code declares.

``make docs`` builds them too; this catches a generator broken by a move in the code
(the app factory, the CLI) in ``make test`` already, with the page that lost its subject.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

from cmdb.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_reference", ROOT / "docs/gen_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def pages() -> dict[str, str]:
    generated: dict[str, str] = _generator().generate()
    return generated


def test_every_command_has_its_help(pages: dict[str, str]) -> None:
    cli = pages["reference/cli.md"]
    for command in ("cmdb", "cmdb ci add", "cmdb change suggest-window", "cmdb discover"):
        assert f"## `{command}`\n" in cli
    assert "Usage: cmdb change suggest-window [OPTIONS]" in cli
    assert "╭" not in cli, "plain help, not rich boxes"


def test_every_setting_has_its_variable(pages: dict[str, str]) -> None:
    prefix = str(Settings.model_config.get("env_prefix", ""))
    for name, field in Settings.model_fields.items():
        # A setting read from another program's variable (PROMETHEUS_MULTIPROC_DIR) is
        # listed under that variable.
        alias = field.validation_alias
        env = alias if isinstance(alias, str) else f"{prefix}{name.upper()}"
        assert f"| `{env}` |" in pages["reference/settings.md"]


def test_every_operation_and_root_field_is_listed(pages: dict[str, str]) -> None:
    doc = json.loads(pages["reference/openapi.json"])
    operations = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(operations) > 10
    for op_id in operations:
        assert f"{{#{op_id}}}" in pages["reference/rest.md"]
    assert "| `pushDiscovery` |" in pages["reference/graphql.md"]
    assert pages["reference/schema.graphql"] == (ROOT / "graphql/schema.graphql").read_text()
