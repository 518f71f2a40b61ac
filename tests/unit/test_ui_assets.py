"""The committed browser files (cmdb/web/static/vendor) are those of ui/package-lock.json, and
every vendored file a page or the API docs load is one devsupport.ui_assets builds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cmdb.web import docs
from devsupport import ui_assets

STATIC = Path(ui_assets.VENDOR).parent


def test_the_vendored_files_are_the_locks() -> None:
    assert ui_assets.built_digest() == ui_assets.lock_digest(), (
        "ui/package-lock.json changed: run `python -m devsupport.ui_assets` and commit"
        " cmdb/web/static/vendor"
    )
    assert ui_assets.current()
    assert ui_assets.main(["--check"]) == 0


def test_every_vendored_file_a_page_loads_is_built() -> None:
    built = set(ui_assets.FILES.values())
    named: set[str] = set()
    for page in [*STATIC.glob("*.html"), *STATIC.glob("*.js")]:
        named |= set(re.findall(r"/static/vendor/([\w.\-]+)", page.read_text()))
    for url in (docs.SWAGGER_JS, docs.SWAGGER_CSS, docs.REDOC_JS):
        named.add(url.rsplit("/", 1)[1])
    assert named, "no page loads a vendored file?"
    assert named <= built, sorted(named - built)
    assert {"cytoscape.min.js", "swagger-ui-bundle.js", "redoc.standalone.js"} <= named


def test_the_vendored_files_ship_as_package_data() -> None:
    pyproject = (ui_assets.ROOT / "pyproject.toml").read_text()
    assert '"web/static/vendor/*"' in pyproject
    gitignore = (ui_assets.ROOT / ".gitignore").read_text().splitlines()
    assert not any(line.startswith("cmdb/web/static") for line in gitignore)


def test_the_bundles_fetch_nothing_from_outside_by_themselves() -> None:
    for name, swaps in ui_assets.PATCHES.items():
        text = (ui_assets.VENDOR / name).read_text(encoding="utf-8")
        for old, new in swaps:
            assert old not in text and new in text, name


def test_without_npm_a_changed_lock_keeps_the_committed_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lock = tmp_path / "package-lock.json"
    lock.write_text('{"lockfileVersion": 3, "changed": true}\n')
    monkeypatch.setattr(ui_assets, "LOCK", lock)
    monkeypatch.setattr(ui_assets.shutil, "which", lambda name: None)
    assert not ui_assets.current()
    assert ui_assets.main([]) == 0  # make install goes on: the demo needs no npm
    assert "npm is missing" in capsys.readouterr().err
    assert ui_assets.main(["--check"]) == 1
    with pytest.raises(SystemExit, match="npm is needed"):
        ui_assets.main(["--force"])
