"""The push contract: what the API calls with an uploaded inventory.

The payload is written to a private temporary directory (adapters read files, and
large inputs stream from disk), read by the format's adapter, and reconciled. Paths in
keys, problems and places name the upload (``filename``), not the temporary file, so a
report reads the same however the payload arrived and re-uploads keep stable keys.
Bad input raises ``InvalidInput`` before anything is written.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import orjson

from cmdb.domain.errors import InvalidInput
from cmdb.store.contract import GraphStore
from cmdb.store.gcpause import gc_paused
from discovery.io import MAX_BYTES
from discovery.reconcile.engine import reconcile
from discovery.reconcile.report import RunReport
from discovery.records import Inventory, collect
from discovery.registry import FORMATS, reader

# File suffixes adapters expect (some sniff the format by it).
SUFFIX = {
    "k8s": ".yaml",
    "compose": ".yaml",
    "backstage": ".yaml",
    "terraform": ".tfstate",
    "nmap": ".xml",
    "ansible": ".json",
    "cyclonedx": ".json",
    "spdx": ".json",
    "glpi": ".json",
    "csv": ".csv",
    "json": ".json",
    "aws": ".json",
    "netbox": ".json",
}


def ingest_payload(
    store: GraphStore,
    payload: bytes,
    *,
    fmt: str,
    source: str,
    scope: str | None = None,
    dry_run: bool = False,
    filename: str | None = None,
    **options: Any,
) -> RunReport:
    """Reconcile an uploaded inventory; ``options`` as for ``reconcile`` (precedence,
    stale_after_runs, override, run_id, observed_at, actor, approved_changes).

    Unless the caller passes ``approved_changes``, the store's change records are the
    ones a difference is checked against, as ``cmdb discover`` does: every push (REST or
    GraphQL) then reports unauthorised changes the same way."""
    if fmt not in FORMATS:
        raise InvalidInput(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}", where="format")
    if len(payload) > MAX_BYTES:
        raise InvalidInput(f"payload is {len(payload)} bytes; the limit is {MAX_BYTES}")
    name = Path(filename or f"upload{SUFFIX[fmt]}").name or f"upload{SUFFIX[fmt]}"
    with tempfile.TemporaryDirectory(prefix="cmdb-upload-") as tmp:
        path = Path(tmp) / name
        path.write_bytes(payload)
        try:
            with gc_paused():  # as ``engine.ingest`` reads: a large heap and no cycles
                inventory = _relabel(collect(fmt, reader(fmt)([path])), str(path), name)
        except InvalidInput as exc:
            exc.message = exc.message.replace(str(path), name)
            exc.where = exc.where.replace(str(path), name) if exc.where else exc.where
            raise
    options.setdefault("approved_changes", store.list_changes())
    return reconcile(store, inventory, source=source, scope=scope, dry_run=dry_run, **options)


def _relabel(inv: Inventory, temp: str, name: str) -> Inventory:
    """Replace the temporary path by the upload's name wherever the adapter put it."""

    def quoted(text: str) -> str:
        return orjson.dumps(text).decode()[1:-1]  # as it appears inside a JSON string

    return Inventory.model_validate_json(inv.model_dump_json().replace(quoted(temp), quoted(name)))
