"""The repository's shape: folders that must hold no Python, and a README that tells the truth.

``graphql/`` and ``docker/`` share their names with libraries (graphql-core, used by
Strawberry; docker, used by testcontainers). A regular package of that name in the repo
root would shadow the library for anything run from there; a folder without Python is at
most a namespace portion, which any installed package outranks.
"""

from __future__ import annotations

import importlib.util
from importlib import metadata
from pathlib import Path

import pytest

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


def test_readme_is_short_and_gives_the_two_commands() -> None:
    # House rule 11: the README is what it is, the two commands and a tour; the settings,
    # guides and benchmark tables live in the docs site (tests/docs checks those pages).
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make demo" in text and "make test" in text
    words = len(text.split())
    assert words <= 1500, f"README.md has {words} words; move detail into docs/"
