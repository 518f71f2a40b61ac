"""Dev-only code stays out of the installed application.

``devsupport`` (the driver of the local Neo4j launcher, for tests, ``make neo4j-up`` and the
benchmarks) is not shipped: the wheel's package list must not pick it up, nothing the wheel
holds may import it, and mypy must still check it.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path
from typing import Any

from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ("cmdb", "discovery", "impact")
DEV = "devsupport"


def _config() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _shipped_packages() -> list[str]:
    found = _config()["tool"]["setuptools"]["packages"]["find"]
    return list(find_packages(where=str(ROOT), include=found["include"]))


def _imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def test_the_wheel_ships_the_application_and_not_devsupport() -> None:
    shipped = _shipped_packages()
    assert set(SHIPPED) <= set(shipped), shipped
    assert not [p for p in shipped if p == DEV or p.startswith(f"{DEV}.")], shipped


def test_nothing_shipped_imports_devsupport() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for package in SHIPPED
        for path in sorted((ROOT / package).rglob("*.py"))
        for line, module in _imported_modules(path)
        if module == DEV or module.startswith(f"{DEV}.")
    ]
    assert not offenders, offenders


def test_mypy_still_checks_devsupport() -> None:
    packages = _config()["tool"]["mypy"]["packages"]
    assert DEV in packages and all(p in packages for p in SHIPPED), packages
