"""``python -m cmdb.gql.export [--check] [PATH]``: write the SDL to graphql/schema.graphql.

With ``--check`` nothing is written: exit 1 when the file differs from the live schema.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cmdb.gql.schema import sdl

DEFAULT = Path(__file__).resolve().parents[2] / "graphql" / "schema.graphql"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    paths = [a for a in argv if not a.startswith("--")]
    path = Path(paths[0]) if paths else DEFAULT
    text = sdl()
    if check:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != text:
            print(f"{path} is out of date: run python -m cmdb.gql.export", file=sys.stderr)
            return 1
        return 0
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
