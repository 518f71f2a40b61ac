"""Run history and staleness: whether to trust digests, whether a run looks wrong, and
which CIs a successful run did not see.

Discovery never deletes. A CI the source stops seeing gets one more missed run per
*successful* run of that source and scope; at the source's threshold it becomes stale
for that source. A failed run marks nothing; a suspicious one (no items, or under half of
what the last successful run saw) marks nothing unless the caller overrides.
"""

from __future__ import annotations

from collections.abc import Mapping

from cmdb.domain.errors import NotFound
from cmdb.domain.model import Sighting
from cmdb.domain.records import DiscoveryRun, RunStatus
from cmdb.store.contract import GraphStore, SightingHit

_FINISHED_WRITES = (RunStatus.SUCCEEDED, RunStatus.SUSPICIOUS)


def runs_of(store: GraphStore, source: str, scope: str | None) -> list[DiscoveryRun]:
    """This source's applied runs of exactly this scope, newest first."""
    if scope is not None:
        found = store.list_runs(source=source, scope=scope, limit=200)
    else:  # the store's filter takes None as "any scope"
        found = store.list_runs(source=source, limit=2_000)
    return [r for r in found if r.scope == scope and not r.dry_run]


class Trust:
    """Whether a sighting's digest means "this record is written in full".

    An upsert stores the record's digest with the run's id, and the record's relationships
    are written after all the CIs: so the digest is trusted only if that run got to its
    end (succeeded or suspicious). A touch keeps the digest and moves the run id, which is
    safe because a run touches only what it trusted. After a failed or interrupted run,
    its records are sent again in full, and converge.
    """

    def __init__(self, store: GraphStore, previous: list[DiscoveryRun]) -> None:
        self.store = store
        self.known = {r.id: r.status in _FINISHED_WRITES for r in previous}

    def __call__(self, run_id: str | None) -> bool:
        if run_id is None:
            return False
        if run_id not in self.known:
            try:
                self.known[run_id] = self.store.get_run(run_id).status in _FINISHED_WRITES
            except NotFound:
                self.known[run_id] = False
        return self.known[run_id]


def suspicious(items: int, previous: list[DiscoveryRun], run_id: str) -> str | None:
    if items == 0:
        return "the run saw no items"
    last_ok = next(
        (r for r in previous if r.id != run_id and r.status is RunStatus.SUCCEEDED), None
    )
    before = last_ok.counts.get("items", 0) if last_ok is not None else 0
    if last_ok is not None and items * 2 < before:
        return (
            f"the run saw {items} items, under half of the {before} that the last "
            f"successful run ({last_ok.id}) saw"
        )
    return None


def unseen(
    scan: Mapping[str, SightingHit], scope: str | None, seen: set[str]
) -> dict[str, Sighting]:
    """CIs this source last saw in this scope, that this run did not see, not yet stale.

    ``scan`` is read before the run writes; the planner checks each miss against the
    sighting it finds in its transaction (same scope, not seen in this run).
    """
    return {
        ci_id: hit.sighting
        for ci_id, hit in scan.items()
        if hit.sighting.scope == scope and not hit.sighting.stale and ci_id not in seen
    }
