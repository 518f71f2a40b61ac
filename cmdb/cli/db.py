"""``cmdb db``: the store's schema (Neo4j constraints and indexes)."""

from __future__ import annotations

import typer

from cmdb.config import StoreKind

from ._common import JsonOpt, cli, print_json

app = typer.Typer(no_args_is_help=True, help="The store's schema: migrate and check.")


@app.command("migrate")
def migrate(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Apply the numbered migrations (idempotent: every statement is IF NOT EXISTS)."""
    state = cli(ctx)
    if state.settings.store is StoreKind.EMBEDDED:
        state.store()  # the embedded store creates its schema when it opens
        applied: list[str] = []
        note = "embedded store: schema created on open, nothing to migrate"
    else:
        from cmdb.store.neo4j.store import Neo4jStore

        store = state.store()
        assert isinstance(store, Neo4jStore)
        applied = store.migrate()
        note = f"applied {len(applied)} migration files; constraints present"
    if as_json:
        print_json({"store": state.settings.store.value, "applied": applied, "note": note})
    else:
        typer.echo(note)


@app.command("check")
def check(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Say whether the store has every constraint it needs (exit 1 if not)."""
    state = cli(ctx)
    missing: set[str] = set()
    if state.settings.store is StoreKind.NEO4J:
        from cmdb.store.neo4j.store import Neo4jStore

        store = state.store()
        assert isinstance(store, Neo4jStore)
        missing = store.check_schema()
    if as_json:
        # Here, not at the top: the migrations module needs the Neo4j driver.
        from cmdb.store.neo4j.migrations import load_migrations

        print_json(
            {
                "store": state.settings.store.value,
                "migrations": [m.name for m in load_migrations()],
                "missing_constraints": sorted(missing),
            }
        )
    elif missing:
        typer.echo(f"missing constraints: {', '.join(sorted(missing))}; run `cmdb db migrate`")
    else:
        typer.echo("schema ok")
    if missing:
        raise typer.Exit(1)
