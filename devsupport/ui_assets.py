"""The browser files the web pages load (GraphiQL, Cytoscape, Swagger UI, ReDoc), built
from npm into ``cmdb/web/static/vendor``.

Those files are committed and ship as package data, so ``make demo`` and an installed
wheel need no npm and no network. ``vendor/LOCK.sha256`` records the SHA-256 of the
``ui/package-lock.json`` they were copied from: ``make install`` runs this module, which
refreshes them with ``npm ci`` only when the lock changed since and npm exists (the lock is
compared by content, not by file times, which a fresh clone does not keep).

Command line (from the repository root, any Python >= 3.11: the standard library only)::

    python -m devsupport.ui_assets           # refresh when the lock changed and npm exists
    python -m devsupport.ui_assets --force   # refresh now (npm needed)
    python -m devsupport.ui_assets --check   # exit 1 when the files are not the lock's
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UI = ROOT / "ui"
LOCK = UI / "package-lock.json"
VENDOR = ROOT / "cmdb" / "web" / "static" / "vendor"
DIGEST = VENDOR / "LOCK.sha256"
NPM_LOG = UI / "npm.log"

# node_modules path -> the name served under /static/vendor (the pages and cmdb.web.docs
# name these; a test holds every file a page loads to this list).
FILES: dict[str, str] = {
    "react/umd/react.production.min.js": "react.production.min.js",
    "react-dom/umd/react-dom.production.min.js": "react-dom.production.min.js",
    "cytoscape/dist/cytoscape.min.js": "cytoscape.min.js",
    "graphiql/dist/index.umd.js": "graphiql.min.js",
    "graphiql/dist/style.css": "graphiql.min.css",
    "swagger-ui-dist/swagger-ui-bundle.js": "swagger-ui-bundle.js",
    "swagger-ui-dist/swagger-ui-bundle.js.LICENSE.txt": "swagger-ui-bundle.js.LICENSE.txt",
    "swagger-ui-dist/swagger-ui.css": "swagger-ui.css",
    "swagger-ui-dist/LICENSE": "swagger-ui.LICENSE.txt",
    "redoc/bundles/redoc.standalone.js": "redoc.standalone.js",
    "redoc/bundles/redoc.standalone.js.LICENSE.txt": "redoc.standalone.js.LICENSE.txt",
    "redoc/LICENSE": "redoc.LICENSE.txt",
}

# What a bundle would fetch from outside by itself, replaced as it is copied (each must be
# found exactly once, so an upgrade that moves it fails the build instead of leaking).
# ReDoc's side menu shows its maker's logo from a CDN: a blank 1x1 image instead.
BLANK = "data:image/gif;base64,R0lGODlhAQABAAAAACH5BAEKAAEALAAAAAABAAEAAAICTAEAOw=="
PATCHES: dict[str, list[tuple[str, str]]] = {
    "redoc.standalone.js": [("https://cdn.redoc.ly/redoc/logo-mini.svg", BLANK)],
}


def lock_digest() -> str:
    return hashlib.sha256(LOCK.read_bytes()).hexdigest()


def built_digest() -> str | None:
    """The lock the committed files were built from (None: never recorded)."""
    try:
        return DIGEST.read_text().strip() or None
    except FileNotFoundError:
        return None


def current() -> bool:
    """The vendored files are the lock's, and all there."""
    return built_digest() == lock_digest() and all((VENDOR / n).is_file() for n in FILES.values())


def build() -> None:
    """``npm ci`` in ui/ and the files copied into the vendor folder, then the digest."""
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("npm is needed to rebuild the browser files")
    print(
        f"installing the browser assets from npm into {VENDOR.relative_to(ROOT)} (log: ui/npm.log)"
    )
    with NPM_LOG.open("w") as log:
        done = subprocess.run(
            [npm, "ci", "--prefix", str(UI), "--no-audit", "--no-fund"],
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if done.returncode != 0:
        sys.stderr.write(NPM_LOG.read_text())
        raise SystemExit(f"npm ci failed ({done.returncode})")
    VENDOR.mkdir(parents=True, exist_ok=True)
    for source, name in FILES.items():
        shutil.copyfile(UI / "node_modules" / source, VENDOR / name)
    for name, swaps in PATCHES.items():
        text = (VENDOR / name).read_text(encoding="utf-8")
        for old, new in swaps:
            if text.count(old) != 1:
                raise SystemExit(f"{name}: expected {old!r} once, found it {text.count(old)} times")
            text = text.replace(old, new)
        (VENDOR / name).write_text(text, encoding="utf-8")
    DIGEST.write_text(lock_digest() + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devsupport.ui_assets", description=__doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--force", action="store_true", help="rebuild now")
    mode.add_argument("--check", action="store_true", help="exit 1 unless current")
    args = parser.parse_args(argv)
    if args.check:
        if current():
            return 0
        print("the vendored browser files are not those of ui/package-lock.json", file=sys.stderr)
        return 1
    if args.force:
        build()
        return 0
    if current():
        return 0
    if shutil.which("npm") is None:
        # The committed files still serve every page; only a newer library is missing.
        print(
            "note: ui/package-lock.json changed since the browser files were built, and npm"
            " is missing: serving the committed ones",
            file=sys.stderr,
        )
        return 0
    build()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
