"""``cmdb token create|list|revoke``: API tokens, kept hashed where the store is: in
``CMDB_TOKENS_PATH`` (embedded store) or on the Neo4j database (neo4j store).

The clear token is printed once, by ``create``; ``list`` shows what is stored of a token
(never its secret or hash).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from cmdb.auth.roles import Role
from cmdb.auth.services import resolve_services
from cmdb.auth.tokens import BaseTokenStore, TokenInfo, TokenStore, parse_duration
from cmdb.config import StoreKind

from ._common import CliGroup, JsonOpt, cli, print_json

app = typer.Typer(cls=CliGroup, no_args_is_help=True, help="Create, list and revoke API tokens.")


def _store(ctx: typer.Context) -> BaseTokenStore:
    settings = cli(ctx).settings
    if settings.store is StoreKind.NEO4J:
        from cmdb.auth.backends import tokens_for

        return tokens_for(cli(ctx).store(), settings)
    return TokenStore(settings.tokens_path)


def _status(info: TokenInfo, now: datetime) -> str:
    if info.revoked_at is not None:
        return "revoked"
    if info.expires_at is not None and info.expires_at <= now:
        return "expired"
    return "active"


def _row(info: TokenInfo, now: datetime) -> dict[str, object]:
    return {
        "key": info.key,
        "name": info.name,
        "role": info.role.value,
        "services": list(info.services),
        "created_at": info.created_at.isoformat(),
        "expires_at": info.expires_at.isoformat() if info.expires_at else None,
        "revoked_at": info.revoked_at.isoformat() if info.revoked_at else None,
        "status": _status(info, now),
    }


@app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Who or what uses the token.")],
    role: Annotated[
        Role,
        typer.Option(
            "--role",
            help="What the token may do; cab and change-board also decide the changes whose"
            " risk needs them.",
        ),
    ],
    service: Annotated[
        list[str] | None,
        typer.Option(
            "--service",
            metavar="REF",
            help="Limit the token to a service and what it depends on (repeatable).",
        ),
    ] = None,
    expires_in: Annotated[
        str | None, typer.Option("--expires-in", metavar="DURATION", help="e.g. 30d, 12h, 90m.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """A new token; its clear text is printed this once and cannot be shown again."""
    expires_at = None
    if expires_in is not None:
        expires_at = datetime.now(UTC) + parse_duration(expires_in, where="--expires-in")
    services: list[str] = []
    if service:  # only a scoped token needs the graph store, to resolve its services
        services = resolve_services(cli(ctx).store(), service, where="--service")
    clear, info = _store(ctx).create(name, role, services=services, expires_at=expires_at)
    if as_json:
        print_json({"token": clear, **_row(info, datetime.now(UTC))})
        return
    typer.echo(clear)
    scope = ", ".join(info.services) if info.services else "every service"
    until = info.expires_at.isoformat() if info.expires_at else "never"
    typer.echo(
        f"created {info.role.value} token {info.key} ({info.name}) for {scope}, expires {until}."
        " Store it now: it is not shown again.",
        err=True,
    )


@app.command("list")
def list_(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Every token and its status; never a secret."""
    now = datetime.now(UTC)
    rows = [_row(t, now) for t in _store(ctx).list()]
    if as_json:
        print_json(rows)
        return
    if not rows:
        typer.echo("no tokens")
        return
    for r in rows:
        services = r["services"]
        scope = ",".join(map(str, services)) if isinstance(services, list) and services else "*"
        typer.echo(
            f"{r['key']}  {r['status']:<8} {r['role']:<15} {r['name']}  services={scope}"
            f"  expires={r['expires_at'] or 'never'}"
        )


@app.command("revoke")
def revoke(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="The token's key (see cmdb token list).")],
    as_json: JsonOpt = False,
) -> None:
    """Revoke a token; its next request gets 401."""
    info = _store(ctx).revoke(key)
    if as_json:
        print_json(_row(info, datetime.now(UTC)))
        return
    typer.echo(f"revoked {info.key} ({info.name})")
