"""mkdocs hooks: the pages generated at every build, so none of them can go stale.

* ``reference/*``: written by ``docs/gen_reference.py`` from the code (the CLI, the
  settings, the OpenAPI document, the GraphQL schema). It runs in a fresh interpreter
  without the caller's ``CMDB_*`` variables: the pages show the code's defaults, and a
  ``mkdocs serve`` rebuild sees the code as it is now, not as first imported.
* ``benchmarks.md``: ``bench/README.md``, where the benchmark scripts' latest tables live.
* In ``architecture.md``, the marker ``<!-- importlinter-contracts -->`` becomes the
  import-linter contracts as ``pyproject.toml`` declares them.

Nothing is written into ``docs/``: the files exist only in the build.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

CONTRACTS_MARKER = "<!-- importlinter-contracts -->"


def _generated_reference(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CMDB_")}
    with tempfile.TemporaryDirectory() as out:
        done = subprocess.run(
            [sys.executable, str(root / "docs" / "gen_reference.py"), out],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise PluginError(f"docs/gen_reference.py failed:\n{done.stderr}")
        base = Path(out)
        return {
            p.relative_to(base).as_posix(): p.read_text(encoding="utf-8")
            for p in sorted(base.rglob("*"))
            if p.is_file()
        }


def on_files(files: Files, config: MkDocsConfig) -> Files:
    root = Path(config.config_file_path).parent
    pages = _generated_reference(root)
    pages["benchmarks.md"] = (root / "bench" / "README.md").read_text(encoding="utf-8")
    for src_uri, content in pages.items():
        if files.get_file_from_path(src_uri) is not None:
            raise PluginError(f"docs/{src_uri} is generated; remove the file from docs/")
        files.append(File.generated(config, src_uri, content=content))
    return files


def _contracts(pyproject: Path) -> str:
    """The import-linter contracts of ``pyproject.toml`` as a Markdown list."""
    config: dict[str, Any] = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    contracts = config.get("tool", {}).get("importlinter", {}).get("contracts", [])
    if not contracts:
        return "_(`pyproject.toml` declares no import-linter contract yet.)_"
    out: list[str] = []
    for contract in contracts:
        out.append(f"- **{contract.get('name', '')}** (`{contract.get('type', '')}`)")
        for key, value in contract.items():
            if key in ("name", "type"):
                continue
            shown = " > ".join if key == "layers" else ", ".join
            values = value if isinstance(value, list) else [value]
            out.append(f"    - {key}: " + shown(f"`{v}`" for v in values))
    return "\n".join(out)


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    if CONTRACTS_MARKER not in markdown:
        return markdown
    root = Path(config.config_file_path).parent
    return markdown.replace(CONTRACTS_MARKER, _contracts(root / "pyproject.toml"))
