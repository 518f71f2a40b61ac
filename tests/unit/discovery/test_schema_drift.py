"""The published import schema must be exactly what the pydantic models generate."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cmdb.domain.classes import concrete_classes
from cmdb.domain.identifiers import IdentifierKind
from discovery import schema
from discovery.schema import SCHEMA_PATH, schema_json

ROOT = Path(__file__).resolve().parents[3]
REGENERATE = f"regenerate it with: cd {ROOT} && .venv/bin/python -m discovery.schema"


def test_committed_schema_matches_the_models() -> None:
    assert SCHEMA_PATH == ROOT / "schemas" / "import.schema.json"
    assert SCHEMA_PATH.is_file(), f"{SCHEMA_PATH} is missing; {REGENERATE}"
    committed = SCHEMA_PATH.read_text(encoding="utf-8")
    assert committed == schema_json(), (
        f"{SCHEMA_PATH.relative_to(ROOT)} differs from the pydantic models in "
        f"discovery/schema.py; {REGENERATE}"
    )


def test_generation_is_stable() -> None:
    assert schema_json() == schema_json()
    text = schema_json()
    assert text.endswith("}\n")
    # Pretty and sorted: re-dumping with sorted keys changes nothing.
    assert json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n" == text


def test_schema_says_what_the_models_accept() -> None:
    doc = json.loads(schema_json())
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert doc["required"] == ["version"]
    assert doc["properties"]["version"]["const"] == 1
    ci = doc["$defs"]["ImportCI"]
    assert set(ci["required"]) == {"key", "class", "name"}
    assert ci["additionalProperties"] is False
    assert ci["properties"]["class"]["enum"] == concrete_classes()
    kinds = doc["$defs"]["ImportIdentifiers"]["properties"]
    assert set(kinds) == {k.value for k in IdentifierKind}
    rel = doc["$defs"]["ImportRel"]
    assert set(rel["required"]) == {"source", "type", "target"}
    assert rel["properties"]["confidence"]["maximum"] == 1


def test_check_mode_reports_a_stale_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = tmp_path / "import.schema.json"
    stale.write_text("{}\n", encoding="utf-8")
    monkeypatch.setattr(schema, "SCHEMA_PATH", stale)
    assert schema.main(["--check"]) == 1
    assert stale.read_text(encoding="utf-8") == "{}\n"  # --check never writes
    assert schema.main([]) == 0
    assert stale.read_text(encoding="utf-8") == schema_json()
    assert schema.main(["--check"]) == 0


def test_module_entry_point_checks_the_committed_file() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "discovery.schema", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"{result.stderr}; {REGENERATE}"
