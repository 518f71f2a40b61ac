"""Reconciliation: discovery records -> one deduplicated graph, with runs and staleness.

``reconcile`` takes a collected inventory, ``ingest`` an adapter's records; both return a
``RunReport`` (the plan, for a dry run). ``service.ingest_payload`` is what the API calls.
"""

from discovery.reconcile.engine import ingest, new_run_id, reconcile
from discovery.reconcile.report import RunReport

__all__ = ["RunReport", "ingest", "new_run_id", "reconcile"]
