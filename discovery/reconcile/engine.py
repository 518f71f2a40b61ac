"""A discovery run from end to end: plan, write, sweep, and the run record around it.

The run record is written ``running`` first and ``succeeded``/``suspicious``/``failed`` at
the end. The staleness sweep (one more missed run for every CI of this source and scope the
run did not see) goes into the same change set as the success record, so a CI is never
marked stale by a run that is not recorded as successful, and a run that failed part way
marks nothing. A dry run reads only and returns the same report as a plan.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from cmdb.domain.changeset import (
    FINDINGS_CAP,
    ChangeSet,
    CIRef,
    Miss,
    Precedence,
    RunFindings,
    StaleFinding,
    UnauthorisedFinding,
)
from cmdb.domain.errors import CmdbError, InvalidInput
from cmdb.domain.model import CI, utcnow
from cmdb.domain.records import Change, DiscoveryRun, RunProblem, RunStatus
from cmdb.store.contract import GraphStore, SightingHit
from cmdb.store.gcpause import gc_paused
from discovery.reconcile import staleness
from discovery.reconcile.identify import Group
from discovery.reconcile.plan import Context, Plan, Progress, build, diffs, no_progress, outcome
from discovery.reconcile.plan import upserts as plan_upserts
from discovery.reconcile.report import (
    Discrepancy,
    RunReport,
    StaleCI,
    unauthorised,
)
from discovery.reconcile.writer import Writer
from discovery.records import PARTIAL, Inventory, Item, collect

BATCH = 5_000
# How old an unchanged CI's sighting may get before a run refreshes it (see needs_touch).
TOUCH_AFTER = timedelta(hours=12)
MAX_STORED_PROBLEMS = 500  # the run record keeps the first ones; the report has them all


def new_run_id() -> str:
    return f"run_{uuid.uuid4().hex}"


def reconcile(
    store: GraphStore,
    inventory: Inventory,
    *,
    source: str,
    scope: str | None = None,
    dry_run: bool = False,
    precedence: Precedence | None = None,
    stale_after_runs: int = 3,
    override: bool = False,
    run_id: str | None = None,
    observed_at: datetime | None = None,
    actor: str = "discovery",
    approved_changes: Sequence[Change] = (),
    batch_size: int = BATCH,
    touch_after: timedelta = TOUCH_AFTER,
    clock: Callable[[], datetime] = utcnow,
    progress: Progress = no_progress,
) -> RunReport:
    """Reconcile an inventory into the store (or, dry run, say what that would do).

    Store errors end the run as failed (recorded when the store still answers) and are
    reported, not raised; anything else is recorded and raised.
    """
    if stale_after_runs < 1:
        raise InvalidInput("stale_after_runs must be at least 1", where="stale_after_runs")
    run = DiscoveryRun(
        id=run_id or new_run_id(),
        source=source,
        scope=scope,
        format=inventory.format,
        started_at=clock(),
        dry_run=dry_run,
        override=override,
    )
    report = RunReport(
        run=run,
        problems=[
            RunProblem(severity=p.severity.value, where=p.where, message=p.message)
            for p in inventory.problems
        ],
    )
    job = _Job(store, inventory, report, precedence, stale_after_runs, actor, observed_at, clock)
    job.batch_size, job.progress, job.approved = batch_size, progress, approved_changes
    job.touch_after = touch_after
    if not dry_run:
        job.write_run()
    try:
        # A run builds a large heap that lives until it ends and whose only cycles are
        # broken at the end (Plan.release): each pass of the cyclic collector over it
        # found nothing to free, and the passes took a seventh of a 20k-object run.
        with gc_paused():
            job.run()
    except CmdbError as exc:
        job.fail(exc)
    except BaseException as exc:
        job.fail(exc)
        raise
    return report


def ingest(store: GraphStore, fmt: str, items: Iterable[Item], **options: Any) -> RunReport:
    """Collect an adapter's records and reconcile them.

    Bad input (an adapter's InvalidInput) is raised before anything is written. Any other
    failure while reading is recorded as a failed run (unless a dry run), then raised.
    """
    try:
        # Reading builds a large heap that lives to the end of the run and holds no
        # reference cycles: the cyclic collector is paused (see reconcile).
        with gc_paused():
            inventory = collect(fmt, items)
    except InvalidInput:
        raise
    except Exception as exc:
        if not options.get("dry_run"):
            clock: Callable[[], datetime] = options.get("clock", utcnow)
            now = clock()
            failed = DiscoveryRun(
                id=options.get("run_id") or new_run_id(),
                source=options["source"],
                scope=options.get("scope"),
                format=fmt,
                started_at=now,
                ended_at=now,
                status=RunStatus.FAILED,
                note=f"reading the input failed: {type(exc).__name__}: {exc}"[:2000],
            )
            store.apply(
                ChangeSet(
                    actor=options.get("actor", "discovery"),
                    source=failed.source,
                    run_id=failed.id,
                    scope=failed.scope,
                    runs=[failed],
                )
            )
        raise
    return reconcile(store, inventory, **options)


class _Job:
    def __init__(
        self,
        store: GraphStore,
        inventory: Inventory,
        report: RunReport,
        precedence: Precedence | None,
        stale_after: int,
        actor: str,
        observed_at: datetime | None,
        clock: Callable[[], datetime],
    ) -> None:
        self.store, self.inv, self.report = store, inventory, report
        self.run_rec = report.run
        self.precedence, self.stale_after, self.actor = precedence, stale_after, actor
        self.seen = observed_at or self.run_rec.started_at
        self.clock = clock
        self.batch_size = BATCH
        self.touch_after = TOUCH_AFTER
        self.progress: Progress = no_progress
        self.approved: Sequence[Change] = ()
        self.scan: dict[str, SightingHit] = {}
        self.last_look: datetime | None = None

    # -- change sets and the run record ------------------------------------------------
    def changeset(self, **ops: Any) -> ChangeSet:
        return ChangeSet(
            actor=self.actor,
            source=self.run_rec.source,
            run_id=self.run_rec.id,
            observed_at=self.seen,
            scope=self.run_rec.scope,
            precedence=self.precedence,
            **ops,
        )

    def write_run(self, **ops: Any) -> None:
        self.store.apply(self.changeset(runs=[self.run_rec], **ops))

    def fail(self, exc: BaseException) -> None:
        self.run_rec.status = RunStatus.FAILED
        self.run_rec.ended_at = self.clock()
        self.report.error = f"{type(exc).__name__}: {exc}"
        self.run_rec.note = self.report.error[:2000]
        if self.run_rec.dry_run:
            return
        try:
            self.write_run()
        except Exception as second:  # the store itself may be what failed
            self.report.error += f" (and the run could not be recorded: {second})"

    # -- the run -----------------------------------------------------------------------
    def run(self) -> None:
        run = self.run_rec
        previous = staleness.runs_of(self.store, run.source, run.scope)
        # When this source last looked at this scope to the end: a CI it saw then unchanged
        # (its sighting's last_seen is refreshed only every touch_after) was as it was.
        self.last_look = next(
            (
                r.started_at
                for r in previous
                if r.id != run.id and r.status in (RunStatus.SUCCEEDED, RunStatus.SUSPICIOUS)
            ),
            None,
        )
        ctx = Context(
            source=run.source,
            scope=run.scope,
            seen=self.seen,
            precedence=self.precedence,
            trusted=staleness.Trust(self.store, previous),
            progress=self.progress,
            touch_after=self.touch_after,
        )
        self.scan = self.store.list_sightings(run.source)
        plan = build(self.store, self.inv, ctx, self.scan)
        try:
            self._run_plan(plan, ctx, previous)
        finally:
            plan.release()

    def _run_plan(self, plan: Plan, ctx: Context, previous: list[DiscoveryRun]) -> None:
        run, report = self.run_rec, self.report
        report.conflicts += plan.conflicts
        items = sum(1 for c in self.inv.cis if not c.unresolved)
        # A partial run sweeps nothing (see _sweep), so its size is no sign of a wrong run.
        partial = self.inv.stats.get(PARTIAL, 0) > 0
        reason = None if partial else staleness.suspicious(items, previous, run.id)
        later = [g for g in plan.groups if _awaits_host(plan, g)]
        now = [g for g in plan.groups if not _awaits_host(plan, g)]
        self._describe(plan, ctx)
        if run.dry_run:
            self._sweep(plan, reason, write=False)
            self._finish(plan, items, reason)
            return
        writer = Writer(self.store, ctx, self.changeset, self.batch_size, report.problems)
        writer.cis(now, "write CIs")
        writer.dependents(plan, later)
        writer.relationships(plan)
        t = writer.totals
        report.relationships = {"created": t.rels_created, "updated": t.rels_updated}
        report.skipped_fields = t.skipped_fields
        misses = self._sweep(plan, reason, write=True)
        self._finish(plan, items, reason)
        run.counts.update(
            history_rows=t.history_rows, touched=t.touched, relationships=t.rels_created
        )
        self.write_run(misses=misses, findings=self._findings())

    def _findings(self) -> RunFindings:
        """The run's unauthorised changes and the CIs it marks stale, for its event."""
        report = self.report
        return RunFindings(
            unauthorised=[
                UnauthorisedFinding(
                    ci_id=d.ci_id,
                    name=d.name,
                    field=d.field,
                    before=d.before,
                    after=d.after,
                    why=d.why,
                    change_id=d.change_id,
                )
                for d in report.discrepancies[:FINDINGS_CAP]
            ],
            unauthorised_total=len(report.discrepancies),
            stale=[
                StaleFinding(ci_id=s.ci_id, name=s.name, missed_runs=s.missed_runs)
                for s in report.stale[:FINDINGS_CAP]
            ],
            stale_total=len(report.stale),
        )

    def _describe(self, plan: Plan, ctx: Context) -> None:
        """Outcomes, diffs and discrepancies, from the plan (before anything is written)."""
        report = self.report
        found: list[Discrepancy] = []
        for group in plan.groups:
            if group.outcome in ("create", "update"):
                group.upserts = plan_upserts(group, ctx, report.problems)
                if not group.upserts:
                    group.outcome = "error"
            placeholder = all(r.rec.unresolved for r in group.records)
            if placeholder and group.outcome not in ("referenced", "error"):
                report.unresolved.append(outcome(group))
            if group.outcome == "unchanged":
                report.unchanged += 1
            elif group.outcome == "create":
                report.created.append(outcome(group))
            elif group.outcome == "update" and group.ci is not None:
                changed, skipped = diffs(group.ci, group.upserts or [], ctx)
                if not changed:
                    report.unchanged += 1
                    report.skipped_fields += len(skipped)
                    continue
                entry = outcome(group)
                entry.diffs, entry.skipped = changed, skipped
                report.updated.append(entry)
                found += [
                    Discrepancy(
                        ci_id=group.ci.id,
                        name=group.ci.name,
                        field=d.field,
                        before=d.before,
                        after=d.after,
                        observed_at=self.seen,
                        since=self._since(group.ci),
                    )
                    for d in changed
                    if d.before is not None  # a value changed or went; adding is enrichment
                ]
        report.discrepancies = unauthorised(found, self.approved)

    def _since(self, ci: CI) -> datetime | None:
        """When this source last saw ``ci`` as it was: the difference arose after that."""
        sighting = ci.sources.get(self.run_rec.source)
        if sighting is None:
            return None
        known = [sighting.last_seen]
        if (
            self.last_look is not None
            and sighting.missed_runs == 0
            and sighting.scope == self.run_rec.scope
        ):
            known.append(self.last_look)
        if ci.updated_at is not None:
            # Written since (by a person or another source): its values were current then.
            known.append(ci.updated_at)
        return max(known)

    def _sweep(self, plan: Plan, reason: str | None, *, write: bool) -> list[Miss]:
        run, report = self.run_rec, self.report
        if reason is not None and not run.override:
            report.suspicious = reason
            return []
        if self.inv.stats.get(PARTIAL, 0) > 0:
            # The input carried only part of what the source knows (a partial inventory):
            # what it leaves out was not looked at, so it is not missed. The run keeps the
            # caller's scope, so the CIs it does mention stay in the next full run's sweep.
            run.note = "partial input: nothing marked stale"
            return []
        seen = {g.ci_id for g in plan.groups if g.ci_id is not None}
        missed = staleness.unseen(self.scan, run.scope, seen)
        for ci_id, sighting in sorted(missed.items()):
            if sighting.missed_runs + 1 >= self.stale_after:
                name = self.store.get_ci(ci_id).name  # few: only those turning stale
                report.stale.append(
                    StaleCI(ci_id=ci_id, name=name, missed_runs=sighting.missed_runs + 1)
                )
        if not write:
            return []
        return [Miss(ref=CIRef(id=ci_id), stale_after=self.stale_after) for ci_id in missed]

    def _finish(self, plan: Plan, items: int, reason: str | None) -> None:
        run, report = self.run_rec, self.report
        for group, entry in _ids(plan, report.created + report.unresolved):
            entry.ci_id = group.ci_id
        run.ended_at = self.clock()
        run.status = (
            RunStatus.SUSPICIOUS if reason is not None and not run.override else RunStatus.SUCCEEDED
        )
        if reason is not None:
            run.note = reason
        run.counts = {
            "items": items,
            **report.summary(),
            "conflicts": len(report.conflicts),
            # Carried by the run's event (discovery_run.finished) to webhook receivers.
            "unauthorised": len(report.discrepancies),
        }
        # What the adapter counted (hosts down, resources with no instance, ...).
        run.counts.update({f"input.{k}": v for k, v in self.inv.stats.items()})
        run.problems = report.problems[:MAX_STORED_PROBLEMS]


def _awaits_host(plan: Plan, group: Group) -> bool:
    """A group of dependents whose host is created in this run (so has no id yet)."""
    host = plan.group_of(group.leader.host or "")
    return host is not None and group.ci_id is None and host.ci_id is None


def _ids(plan: Plan, entries: Iterable[Any]) -> Iterable[tuple[Group, Any]]:
    for entry in entries:
        group = plan.group_of(entry.key)
        if group is not None:
            yield group, entry
