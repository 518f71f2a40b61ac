"""Writing a plan as change sets: CIs in batches, then dependents, then relationships.

Every batch is one change set, applied atomically by the store; identification by
unique identifiers, precedence and history happen inside the store's write transaction
(cmdb.store.planner), which is what keeps two sources writing at once consistent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from cmdb.domain.changeset import ChangeSet, CIRef, CIUpsert, RelUpsert, Touch
from cmdb.domain.errors import InvalidInput
from cmdb.domain.records import RunProblem
from cmdb.domain.relationships import check_allowed
from cmdb.store.contract import GraphStore
from discovery.reconcile.identify import Group
from discovery.reconcile.plan import Context, Plan, needs_touch, rekey, upserts


@dataclass
class Totals:
    """What the change sets did, summed over batches."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    touched: int = 0
    rels_created: int = 0
    rels_updated: int = 0
    history_rows: int = 0
    skipped_fields: int = 0
    marked_stale: int = 0


@dataclass
class Writer:
    store: GraphStore
    ctx: Context
    make: Callable[..., ChangeSet]  # a change set with the run's who/where/when filled in
    batch_size: int
    problems: list[RunProblem]
    totals: Totals = field(default_factory=Totals)

    def _apply(self, cs: ChangeSet) -> list[str]:
        res = self.store.apply(cs)
        t = self.totals
        t.created += res.created
        t.updated += res.updated
        t.unchanged += res.unchanged
        t.touched += res.touched
        t.rels_created += res.rels_created
        t.rels_updated += res.rels_updated
        t.history_rows += res.history_rows
        t.skipped_fields += res.skipped_fields
        t.marked_stale += res.marked_stale
        return res.ci_ids

    def cis(self, groups: list[Group], phase: str) -> None:
        """Upsert changed groups and touch unchanged ones; learn the ids of new CIs."""
        pending_ups: list[CIUpsert] = []
        owners: list[Group] = []
        touches: list[Touch] = []
        done = 0

        def flush() -> None:
            nonlocal pending_ups, owners, touches
            if pending_ups or touches:
                ids = self._apply(self.make(ci_upserts=pending_ups, touches=touches))
                for group, ci_id in zip(owners, ids, strict=True):
                    group.ci_id = group.ci_id or ci_id
            pending_ups, owners, touches = [], [], []
            self.ctx.progress(phase, done, len(groups))

        for group in groups:
            done += 1
            if group.outcome == "unchanged" and group.ci_id and needs_touch(group, self.ctx):
                # No digest: the sighting keeps the one it has, which is the same.
                touches.append(Touch(ref=CIRef(id=group.ci_id)))
            elif group.outcome in ("create", "update"):
                if group.upserts is None:
                    group.upserts = upserts(group, self.ctx, self.problems)
                ups = group.upserts
                if not ups:
                    group.outcome = "error"
                pending_ups += ups
                owners += [group] * len(ups)
            if len(pending_ups) + len(touches) >= self.batch_size:
                flush()
        flush()

    def dependents(self, plan: Plan, groups: list[Group]) -> None:
        """Dependents of hosts created in this run: keyed now that the host has an id."""
        ready: list[Group] = []
        for group in groups:
            host = plan.group_of(group.leader.host or "")
            if host is None or host.ci_id is None:
                group.outcome = "error"
                self.problems.append(
                    RunProblem(
                        severity="error",
                        where=group.leader.rec.where or group.leader.key,
                        message="its host was not written, so it cannot be identified",
                    )
                )
                continue
            for r in group.records:
                rekey(r, host.ci_id)
            group.upserts = None  # built again with the real key
            ready.append(group)
        self.cis(ready, "write dependents")

    def relationships(self, plan: Plan) -> None:
        rels: dict[tuple[str, str, str], RelUpsert] = {}
        for r in plan.records:
            group = r.group
            if group is None or group.outcome not in ("create", "update") or not group.ci_id:
                continue
            for rel in r.rels:
                target = plan.group_of(rel.target)
                where = rel.where or r.key
                if target is None or target.ci_id is None or target.outcome == "error":
                    self._problem(
                        where, f"{rel.type} to {rel.target!r}: its target was not written"
                    )
                    continue
                if target is group:
                    self._problem(where, f"{rel.type} to {rel.target!r}: both ends are one CI")
                    continue
                try:
                    check_allowed(rel.type, group.ci_class, target.ci_class)
                except InvalidInput as exc:
                    self._problem(where, f"{rel.type} to {rel.target!r}: {exc.message}")
                    continue
                rels[(rel.type, group.ci_id, target.ci_id)] = RelUpsert(
                    type=rel.type,
                    source=CIRef(id=group.ci_id),
                    target=CIRef(id=target.ci_id),
                    confidence=rel.confidence,
                    attributes=rel.attributes,
                )
        ordered = list(rels.values())
        step = self.batch_size * 3  # edges are smaller than CIs
        for lo in range(0, len(ordered), step):
            self._apply(self.make(rel_upserts=ordered[lo : lo + step]))
            self.ctx.progress("write relationships", min(lo + step, len(ordered)), len(ordered))

    def _problem(self, where: str, message: str) -> None:
        self.problems.append(RunProblem(severity="error", where=where, message=message))
