"""What every command shares: the store it opens, how it prints, and how it fails.

A ``CmdbError`` (or a model's validation error) anywhere under a command becomes one line
on stderr and exit code 2; the user never sees a stack trace for their own mistake.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import orjson
import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from typer.core import TyperGroup

from cmdb.config import Settings
from cmdb.domain.changeset import ApplyResult, ChangeSet
from cmdb.domain.errors import CmdbError, InvalidInput
from cmdb.store.contract import GraphStore
from cmdb.store.factory import open_store

if TYPE_CHECKING:
    from cmdb.app.caller import Caller

EXIT_BAD_INPUT = 2

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
AsOfOpt = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        metavar="TIME",
        help="An ISO 8601 instant, e.g. 2026-11-26T09:30:00Z (no zone: UTC).",
    ),
]

# The CLI sends one operation per change set: "ci_upserts[0].name" reads better as "name".
_ONE_OP = re.compile(r"^(ci|rel)_(upserts|retires)\[0\]\.?")


def error_line(exc: CmdbError) -> str:
    if exc.where:
        exc.where = _ONE_OP.sub("", exc.where) or None
    return f"error: {exc}"


def from_validation(exc: ValidationError, *, where: str | None = None) -> InvalidInput:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["loc"]:
        msg = msg.removeprefix(f"{err['loc'][-1]}: ")
    return InvalidInput(msg, where=".".join(p for p in (where, loc) if p) or None)


def fail(exc: CmdbError) -> NoReturn:
    typer.echo(error_line(exc), err=True)
    raise typer.Exit(EXIT_BAD_INPUT)


class CliGroup(TyperGroup):
    """Maps the project's errors to one line on stderr and exit code 2, in one place."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except CmdbError as exc:
            fail(exc)
        except ValidationError as exc:
            fail(from_validation(exc))
        except OSError as exc:
            name = f": {exc.filename}" if exc.filename else ""
            fail(InvalidInput(f"{exc.strerror or exc}{name}"))


@dataclass
class Cli:
    """Per-invocation state: settings, and the store once a command asks for it."""

    settings: Settings
    _store: GraphStore | None = field(default=None, repr=False)

    def store(self) -> GraphStore:
        if self._store is None:
            self._store = open_store(self.settings)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def caller(self, *, source: str = "manual") -> Caller:
        """The person at the terminal as the app's caller: the configured actor, with every
        right (the CLI works on the database itself), one request id per command."""
        # Imported by the commands that write, not at every start.
        from cmdb.app.caller import Caller
        from cmdb.auth.roles import Role
        from cmdb.auth.tokens import Principal

        return Caller(Principal(self.settings.actor, Role.ADMIN), str(uuid.uuid4()), source)

    def apply(self, cs_fields: dict[str, Any], *, source: str = "manual") -> ApplyResult:
        cs = ChangeSet(
            actor=self.settings.actor,
            source=source,
            request_id=str(uuid.uuid4()),
            **cs_fields,
        )
        return self.store().apply(cs)


def cli(ctx: typer.Context) -> Cli:
    obj = ctx.find_root().obj
    assert isinstance(obj, Cli), "the root callback sets the CLI state"
    return obj


def parse_instant(text: str | None, *, where: str = "--as-of") -> datetime | None:
    """ISO 8601 with or without a zone; an instant without one is UTC."""
    if text is None:
        return None
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidInput(
            f"{text!r} is not an ISO 8601 time (e.g. 2026-11-26T09:30:00Z)", where=where
        ) from exc
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def dump(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, list | tuple):
        return [dump(v) for v in value]
    if isinstance(value, dict):
        return {k: dump(v) for k, v in value.items()}
    return value


def print_json(value: Any) -> None:
    typer.echo(orjson.dumps(dump(value), option=orjson.OPT_INDENT_2).decode())


def console() -> Console:
    return Console(highlight=False, soft_wrap=False)
