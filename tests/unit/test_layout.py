"""The repository's shape: folders that must hold no Python, and a README that tells the truth.

``graphql/`` and ``docker/`` share their names with libraries (graphql-core, used by
Strawberry; docker, used by testcontainers). A regular package of that name in the repo
root would shadow the library for anything run from there; a folder without Python is at
most a namespace portion, which any installed package outranks.
"""

from __future__ import annotations

import importlib.util
import re
from importlib import metadata
from pathlib import Path

import pytest

from cmdb.config import Settings

ROOT = Path(__file__).resolve().parents[2]
NO_PYTHON = ("graphql", "docker", "schemas")


def _inside_repo(path: str | None) -> bool:
    """In the work tree itself; an installed library (even in ./.venv) does not count."""
    if path is None:
        return False
    resolved = Path(path).resolve()
    installed = {"site-packages", "dist-packages"} & set(resolved.parts)
    return resolved.is_relative_to(ROOT) and not installed


def _installed(dist: str) -> bool:
    try:
        metadata.distribution(dist)
    except metadata.PackageNotFoundError:
        return False
    return True


@pytest.mark.parametrize("folder", NO_PYTHON)
def test_shadowing_prone_folders_hold_no_python(folder: str) -> None:
    base = ROOT / folder
    assert base.is_dir(), f"{folder}/ is part of the layout"
    offenders = [p for p in base.rglob("*") if p.suffix in (".py", ".pyc", ".pyi", ".so")]
    offenders += list(base.rglob("__init__.py"))
    assert not offenders, f"no Python under {folder}/: {offenders}"
    assert (base / "README.md").is_file(), f"{folder}/README.md says what goes there"


@pytest.mark.parametrize(("module", "dist"), [("graphql", "graphql-core"), ("docker", "docker")])
def test_library_names_resolve_outside_the_repo(module: str, dist: str) -> None:
    spec = importlib.util.find_spec(module)
    # A namespace portion (origin None) is what a Python-free folder gives when the library
    # is not installed: harmless. A real module must never come from the repo.
    if spec is not None:
        assert not _inside_repo(spec.origin), f"`import {module}` resolves to {spec.origin}"
    if _installed(dist):
        assert spec is not None and spec.origin is not None, f"{dist} is installed"
        assert not _inside_repo(spec.origin)
        assert "site-packages" in spec.origin or "dist-packages" in spec.origin, spec.origin


def _config_rows() -> dict[str, list[str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.search(r"^## Configuration\n(.*?)(?=^## )", text, re.S | re.M)
    assert section, "README.md has a '## Configuration' section"
    rows: dict[str, list[str]] = {}
    for line in section.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0].startswith("`CMDB_"):
            rows[cells[0].strip("`")] = cells
    return rows


def _shown_default(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()  # as an environment variable spells it
    return str(getattr(value, "value", value))


def test_readme_configuration_table_lists_every_setting() -> None:
    rows = _config_rows()
    prefix = Settings.model_config.get("env_prefix", "")
    expected = {f"{prefix}{name}".upper(): name for name in Settings.model_fields}
    missing = sorted(set(expected) - set(rows))
    stale = sorted(set(rows) - set(expected))
    assert not missing, f"README.md configuration table lacks {missing}"
    assert not stale, f"README.md configuration table lists unknown settings {stale}"
    for env, name in expected.items():
        cells = rows[env]
        assert cells[1] == f"`{name}`", (env, cells)
        shown = _shown_default(Settings.model_fields[name].default)
        assert cells[2].strip("`") == shown, f"{env}: README says {cells[2]}, code says {shown}"
        assert cells[3], f"{env}: say what it means"


def test_readme_keeps_the_benchmark_placeholder_and_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make demo" in text and "make test" in text
    assert "bench:store" in text
