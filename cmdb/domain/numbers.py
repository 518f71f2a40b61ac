"""The integers the stores can keep: 64-bit signed (SQLite, Neo4j, and orjson writing
history). JSON itself has no limit, so a larger number is refused where it comes in."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

MIN_INT, MAX_INT = -(2**63), 2**63 - 1

# An integer field's type where no tighter bound applies.
StoredInt = Annotated[int, Field(ge=MIN_INT, le=MAX_INT)]
