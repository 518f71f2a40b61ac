"""Commands whose modules are imported only when that command runs.

A person waits for every start (house rule 12): `cmdb ci show` must not pay for FastAPI,
Strawberry, uvicorn or the Neo4j driver, which only `serve` and the Neo4j store need.
The root group knows each command by name and where it lives; the module is imported
when click asks for the command (to run it, or to list it in ``--help``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, ClassVar

import typer
import typer.main

from ._common import CliGroup

if TYPE_CHECKING:
    # Typer >= 0.22 carries its own copy of click; these are the types its groups use.
    from typer._click import Command, Context


class LazyGroup(CliGroup):
    """A CliGroup whose subcommands are ``name -> (module, attribute)``.

    The attribute is a ``typer.Typer`` (a command group) or a plain function (one command).
    """

    lazy: ClassVar[dict[str, tuple[str, str]]] = {}

    def list_commands(self, ctx: Context) -> list[str]:
        eager = super().list_commands(ctx)
        return [*eager, *(name for name in self.lazy if name not in eager)]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in self.lazy:
            command = _load(cmd_name, *self.lazy[cmd_name])
            self.add_command(command, cmd_name)
        return command


def _load(name: str, module: str, attribute: str) -> Command:
    target: Any = getattr(importlib.import_module(module), attribute)
    if isinstance(target, typer.Typer):
        # get_group, not get_command: a group with one command must stay a group.
        command: Command = typer.main.get_group(target)
    else:
        # As the root: no completion options (a default Typer would list them in --help).
        one = typer.Typer(add_completion=False)
        one.command(name)(target)
        command = typer.main.get_command(one)
    command.name = name
    return command
