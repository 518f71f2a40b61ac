"""Discovery runs: reconcile an inventory as one run of a source over a scope, and read
the run records.

What ``POST /discovery/runs``, GraphQL's ``pushDiscovery`` and ``cmdb discover`` call. One
rule set for every run: the source vouching for the data defaults to the format; the
settings give the source precedence, after how many missed runs a CI is stale and how
often an unchanged sighting is touched; every difference is checked against the store's
change records (one no approved change covers is reported as unauthorised); history
names the caller as actor and, when it has one, its request. Only a token that sees the
whole CMDB pushes or reads runs: a run is about a whole source, not a service.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from cmdb.app.caller import Caller, stamped, unscoped_only
from cmdb.app.observe import outcome_of, run_finished
from cmdb.auth.tokens import Principal
from cmdb.config import Settings
from cmdb.domain.errors import CmdbError, InvalidInput, NotFound
from cmdb.domain.records import DiscoveryRun
from cmdb.store.contract import GraphStore
from discovery.reconcile import RunReport, ingest
from discovery.reconcile.plan import Progress, no_progress
from discovery.reconcile.policy import load_precedence
from discovery.reconcile.service import ingest_payload
from discovery.registry import FORMATS, reader

__all__ = ["FORMATS", "get_run", "list_runs", "push", "run"]


def push(
    store: GraphStore,
    caller: Caller,
    settings: Settings,
    payload: bytes,
    *,
    fmt: str | None,
    source: str | None = None,
    scope: str | None = None,
    dry_run: bool = False,
    override: bool = False,
    filename: str | None = None,
    payload_is: str = "file",
) -> RunReport:
    """One run over a pushed inventory (the file's bytes; ``filename`` names it in keys
    and errors, ``payload_is`` what the caller sent it as). Bad input is refused before
    anything is written; a run that fails part way is recorded as failed and answered
    with its report."""
    unscoped_only(caller.principal, "push inventories")
    # Listeners (the server's metrics) hear the format only when it is a known one: a
    # caller's free text must not become a new time series.
    shown = fmt if fmt in FORMATS else "unknown"
    try:
        if not fmt:
            raise InvalidInput(
                f"the format is required: one of {', '.join(FORMATS)}", where="format"
            )
        if not payload:
            raise InvalidInput("the inventory is empty", where=payload_is)
        report = ingest_payload(
            _as(store, caller),
            payload,
            fmt=fmt,
            source=source or fmt,
            scope=scope or None,
            dry_run=dry_run,
            filename=filename,
            override=override,
            **_options(caller, settings),
        )
    except CmdbError as exc:
        refused = isinstance(exc, InvalidInput)
        run_finished(shown, source or shown, "refused" if refused else "failed")
        raise
    except Exception:
        run_finished(shown, source or shown, "failed")
        raise
    run_finished(shown, report.run.source, outcome_of(report))
    return report


def run(
    store: GraphStore,
    caller: Caller,
    settings: Settings,
    fmt: str,
    paths: Sequence[Path],
    *,
    source: str | None = None,
    scope: str | None = None,
    dry_run: bool = False,
    override: bool = False,
    stale_after_runs: int | None = None,
    progress: Progress = no_progress,
) -> RunReport:
    """One run over inventory files read by the format's adapter (``stale_after_runs``
    overrides the setting; ``progress(phase, done, total)`` hears how far it is)."""
    unscoped_only(caller.principal, "run discovery")
    read = reader(fmt)
    options = _options(caller, settings)
    if stale_after_runs is not None:
        options["stale_after_runs"] = stale_after_runs
    return ingest(
        _as(store, caller),
        fmt,
        read(paths),
        source=source or fmt,
        scope=scope or None,
        dry_run=dry_run,
        override=override,
        progress=progress,
        # A difference no approved change covers is an unauthorised change.
        approved_changes=store.list_changes(),
        **options,
    )


def list_runs(
    store: GraphStore,
    principal: Principal,
    *,
    source: str | None = None,
    scope: str | None = None,
    limit: int = 20,
) -> list[DiscoveryRun]:
    """Runs, newest first (a token scoped to services sees none)."""
    if principal.scoped:
        return []
    return store.list_runs(source=source, scope=scope, limit=limit)


def get_run(store: GraphStore, principal: Principal, run_id: str) -> DiscoveryRun:
    """One run's record; missing to a token scoped to services, as to anyone if absent."""
    missing = NotFound(f"no run {run_id!r}", where="run_id")
    if principal.scoped:
        raise missing
    try:
        return store.get_run(run_id)
    except NotFound:
        raise missing from None


def _options(caller: Caller, settings: Settings) -> dict[str, Any]:
    policy = settings.discovery_precedence_file
    return {
        "actor": caller.name,
        "precedence": load_precedence(policy) if policy is not None else None,
        "stale_after_runs": settings.discovery_stale_after_runs,
        "touch_after": timedelta(seconds=settings.discovery_touch_after_s),
    }


def _as(store: GraphStore, caller: Caller) -> GraphStore:
    """The store with every change set the run writes stamped with the caller's request."""
    return store if caller.request_id is None else stamped(store, caller.request_id)
