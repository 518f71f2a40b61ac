"""Common cause: which upstream CI best explains several affected CIs or services at once.

Every CI from which an impact path leads to an affected item *explains* it (plain
reachability in the impact direction; an affected item explains itself). Candidates are
ranked by evidence:

    score = explained + 0.6 * change + 0.3 * failures

- ``explained`` (topology): how many of the affected items it sits under. Both other parts
  together stay below 1, so evidence never lifts a candidate over one explaining more
  symptoms: two symptoms with one cause are likelier than two causes.
- ``change`` (in [0, 1], reported as ``recency``): its best change, weighed by where the
  change's window sits against the *first symptom* (the earliest open incident naming an
  affected item, else now). A change still in progress when the first symptom began
  weighs 1; one that ended before it weighs ``1 - gap / lookback`` (ended just before: ~1;
  a lookback or more before: 0); one that began at or after the first symptom weighs 0 (it
  cannot have caused what was already happening), and is listed as not counted. A change
  is an RFC implemented or in progress, or a recorded field change (:func:`real_changes`:
  loading a CI, or a feed's first report of it, is not a change).
- ``failures`` (in [0, 1]): incidents on the candidate itself in the failure window before
  the first symptom (the symptoms' own incidents excluded), ``1 - 0.5 ** n``: a CI that
  keeps failing is a likelier culprit, and the first incident counts most.

Equal scores (the same evidence) are ordered deterministically, and the answer says so:
closer to the symptoms first (smaller mean path length: the most specific explanation),
then the one that takes down fewer of the CIs fetched under the symptoms (failing it alone,
quorums honoured: a narrower cause explains with less collateral), then by name and id.
Each candidate carries its evidence, one sentence per part (``reasons``), the tie-break
when it shares its score with a neighbour (``tie_break``), and, per explained item, the
shortest impact path.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from cmdb.domain.history import HistoryEntry, HistoryOp
from cmdb.domain.service import ServiceDetails
from impact._arrays import IntArray, bfs
from impact.explain import ImpactPath, path_of
from impact.graph import ImpactGraph
from impact.propagate import propagate
from impact.severity import FailureMode, Severity

CHANGE_WEIGHT = 0.6
FAILURE_WEIGHT = 0.3
FAILURE_WINDOW = timedelta(days=90)
FIRST, NOW = "the first symptom", "now"  # what changes are weighed against, in words


class Evidence(BaseModel):
    """Something that happened to a CI: a change (an RFC or a recorded field change) or an
    incident on it. ``weight`` and ``note`` are filled in by the ranking."""

    ci_id: str
    at: datetime = Field(description="a change's end (or the field change), an incident's start")
    what: str
    kind: str = Field(default="change", description='"change" (an RFC), "field" or "incident"')
    ref: str | None = Field(default=None, description="the RFC's or incident's reference")
    start: datetime | None = Field(default=None, description="a change window's start")
    weight: float = Field(default=0.0, description="how much it counts, 0..1")
    note: str = Field(default="", description="why it counts that much")


class CauseCandidate(BaseModel):
    id: str
    name: str
    ci_class: str
    rank: int = 0
    score: float
    explained: int
    explains: list[str]  # names of the affected items it reaches
    recency: float = Field(description="the change part, 0..1: its best change's weight")
    failure_weight: float = Field(default=0.0, description="the failures part, 0..1")
    mean_distance: float
    takes_down: int | None = Field(
        default=None,
        description="CIs under the symptoms its failure alone takes down (itself excluded)",
    )
    changes: list[Evidence] = Field(description="changes in the lookback, counted or not")
    failures: list[Evidence] = Field(
        default_factory=list, description="incidents on it in the failure window"
    )
    reasons: list[str] = Field(
        default_factory=list, description="the evidence that put it where it is"
    )
    tie_break: str | None = Field(
        default=None, description="how a tie on evidence with a neighbour was broken"
    )
    paths: list[ImpactPath]


class CauseResult(BaseModel):
    affected: list[str]
    unknown: list[str]  # affected items not in the graph
    lookback_minutes: float
    first_symptom: datetime | None = Field(
        default=None, description="the instant changes are weighed against"
    )
    symptom_incidents: list[str] = Field(
        default_factory=list, description="open incidents naming an affected item"
    )
    failure_window_days: float = FAILURE_WINDOW.total_seconds() / 86400
    candidates: list[CauseCandidate]


# --- what counts as a change ------------------------------------------------------------


# A service's details as a CI gets them when created without any: nothing recorded yet.
_UNRECORDED_SERVICE = ServiceDetails().model_dump(mode="json")


def _empty(value: Any) -> bool:
    return value is None or value in ("", [], {}) or value == _UNRECORDED_SERVICE


def real_changes(entries: Sequence[HistoryEntry]) -> list[HistoryEntry]:
    """The rows of one CI's history that change it, not those that record it.

    Not a change: the creation (loading or registering a CI); a discovery run's rows when
    it is its source's first run to report the CI (first discovery: a second scanner or
    the catalogue naming a machine another feed found); a field given its first value
    (nothing was recorded before, or only a service's default details: the CMDB learns,
    the CI does not change); staleness bookkeeping. Anything else (a person's edit, a
    later run seeing a new version) is."""
    first_run: dict[str, str] = {}
    out: list[HistoryEntry] = []
    for h in sorted(entries, key=lambda e: e.seq):
        # A source's first run on the CI is the one its first row (the creation too) is in.
        first = first_run.setdefault(h.source, h.run_id) if h.run_id is not None else None
        if h.op is HistoryOp.CREATE or h.field.startswith("stale."):
            continue
        if first is not None and first == h.run_id:
            continue
        if h.op is HistoryOp.UPDATE and _empty(h.before):
            continue
        out.append(h)
    return out


def _span(delta: timedelta) -> str:
    s = abs(delta.total_seconds())
    if s < 60:
        return "under a minute"
    if s < 90 * 60:
        return f"{s / 60:.0f} min"
    if s < 48 * 3600:
        return f"{s / 3600:.1f} h".replace(".0 h", " h")
    return f"{s / 86400:.0f} days"


def change_weight(
    ev: Evidence, first: datetime, lookback: timedelta, *, anchor: str = FIRST
) -> tuple[float, str]:
    """A change's weight against ``first`` (the first symptom, or now when no incident
    names the affected: ``anchor`` names it), and the reason in words."""
    began = ev.start or ev.at
    if began >= first:
        return 0.0, f"began {_span(began - first)} after {anchor}: not counted"
    if ev.at >= first:
        return 1.0, f"in progress at {anchor}"
    gap = first - ev.at
    # A window ends; a field change (an instant) is made.
    done = "ended" if ev.start is not None or ev.kind == "change" else "made"
    span = lookback.total_seconds()
    if span <= 0 or gap > lookback:
        return 0.0, f"{done} {_span(gap)} before {anchor}, beyond the lookback"
    return 1.0 - gap.total_seconds() / span, f"{done} {_span(gap)} before {anchor}"


def recency(evidence: Sequence[Evidence], now: datetime, lookback: timedelta) -> float:
    """The best weight of ``evidence`` against ``now`` (the first symptom)."""
    return max((change_weight(ev, now, lookback)[0] for ev in evidence), default=0.0)


def failure_weight(n: int) -> float:
    return 1.0 - 0.5**n


# --- the ranking --------------------------------------------------------------------------


class _Row:
    """One candidate while it is ranked: the score as shown (3 decimals) and the mean
    distance as shown (2 decimals), so equal-looking candidates are equal for the order
    and the tie-break notes alike."""

    def __init__(self, v: int, explained: int, mean: float, change: float, fails: float):
        self.v = v
        self.explained = explained
        self.mean = round(mean, 2)
        self.change = change
        self.fails = fails
        self.score = round(explained + CHANGE_WEIGHT * change + FAILURE_WEIGHT * fails, 3)
        self.takes_down: int | None = None


def _takes_down(graph: ImpactGraph, v: int) -> int:
    prop = propagate(graph, {graph.ids[v]: FailureMode.DOWN})
    return int(np.count_nonzero(prop.sev == int(Severity.DOWN))) - 1


def _break(a: CauseCandidate, b: CauseCandidate) -> str:
    """Why ``a`` comes before ``b`` when their evidence is equal (``a`` is the subject)."""
    if a.mean_distance != b.mean_distance:
        return (
            f"closer to the symptoms ({a.mean_distance:g} vs {b.mean_distance:g} hops on average)"
        )
    if a.takes_down != b.takes_down:
        return f"takes fewer CIs down with it ({a.takes_down} vs {b.takes_down})"
    return "by name"


def with_ties(candidates: Sequence[CauseCandidate]) -> list[CauseCandidate]:
    """The candidates (in their order) numbered, each sharing its score with a neighbour
    saying so and what broke the tie: with the one above it if tied, else the one below.
    A caller that drops candidates (a scoped view) calls it again on what it keeps."""
    out: list[CauseCandidate] = []
    for i, c in enumerate(candidates):
        note = None
        score = f"score {c.score:g}"
        if i > 0 and candidates[i - 1].score == c.score:
            above = candidates[i - 1]
            note = f"same evidence as {above.name} ({score}); {above.name} comes first,"
            note += f" {_break(above, c)}"
        elif i + 1 < len(candidates) and candidates[i + 1].score == c.score:
            below = candidates[i + 1]
            note = f"same evidence as {below.name} ({score}); comes before it,"
            note += f" {_break(c, below)}"
        out.append(c.model_copy(update={"rank": i + 1, "tie_break": note}))
    return out


def _order(rows: list[_Row], graph: ImpactGraph, top: int) -> list[_Row]:
    """Best first: score, then distance, then what it takes down (computed only where it
    decides something near the top), then name and id."""
    rows.sort(key=lambda r: (-r.score, r.mean, graph.name(r.v), graph.ids[r.v]))
    out: list[_Row] = []
    i = 0
    while i < len(rows):
        j = i + 1
        while j < len(rows) and (rows[j].score, rows[j].mean) == (rows[i].score, rows[i].mean):
            j += 1
        group = rows[i:j]
        if len(group) > 1 and i <= top:
            for r in group:
                r.takes_down = _takes_down(graph, r.v)
            group.sort(key=lambda r: (r.takes_down or 0, graph.name(r.v), graph.ids[r.v]))
        out.extend(group)
        i = j
    return out


def _topology_reason(explains: list[str], missed: list[str], total: int) -> str:
    if not missed:
        return f"under all {total} affected" if total > 1 else "under the affected item"
    return f"under {len(explains)} of {total} affected; not under {', '.join(missed)}"


def _change_reason(best: Evidence | None, lookback: timedelta, anchor: str) -> str:
    if best is None or best.weight <= 0:
        return f"no change in the {_span(lookback)} before {anchor}"
    return f"{best.what}, {best.note} (weight {best.weight:.2f})"


def _failure_reason(fails: list[Evidence], window: timedelta) -> str:
    if not fails:
        return f"no incident on it in the {_span(window)} before"
    refs = ", ".join(f.ref or f.what for f in fails[:3]) + (" ..." if len(fails) > 3 else "")
    n = len(fails)
    return (
        f"{n} incident{'s' if n > 1 else ''} on it in the {_span(window)} before: {refs}"
        f" (weight {failure_weight(n):.2f})"
    )


def _reach(
    graph: ImpactGraph, items: Sequence[int]
) -> tuple[list[tuple[int, IntArray, IntArray]], IntArray, IntArray]:
    """One search per affected item against the impact edges (everything that can reach
    it), how many items each CI reaches, and the sum of its distances to them."""
    searches: list[tuple[int, IntArray, IntArray]] = []
    count = np.zeros(graph.n, dtype=np.int64)
    dist_sum = np.zeros(graph.n, dtype=np.int64)
    for a in items:
        dist, parent = bfs(graph.inc, np.array([a], dtype=np.int64), graph.n)
        searches.append((a, dist, parent))
        hit = dist >= 0
        count += hit
        dist_sum += np.where(hit, dist, 0)
    return searches, count, dist_sum


def suspects(graph: ImpactGraph, affected: Sequence[str], limit: int) -> list[str]:
    """The ``limit`` CIs explaining the most affected items, nearest first: those whose
    changes and incidents are worth reading."""
    items = [i for a in dict.fromkeys(affected) if (i := graph.index(a)) is not None]
    _, count, dist_sum = _reach(graph, items)
    hits = np.flatnonzero(count > 0).tolist()
    hits.sort(key=lambda v: (-int(count[v]), int(dist_sum[v]) / int(count[v]), graph.ids[v]))
    return [graph.ids[v] for v in hits[:limit]]


def rank_causes(
    graph: ImpactGraph,
    affected: Sequence[str],
    *,
    evidence: Sequence[Evidence] = (),
    failures: Sequence[Evidence] = (),
    now: datetime,
    first_symptom: datetime | None = None,
    symptom_incidents: Sequence[str] = (),
    lookback: timedelta = timedelta(hours=24),
    failure_window: timedelta = FAILURE_WINDOW,
    top: int = 10,
) -> CauseResult:
    """``evidence``: changes (kind "change" or "field") on any CI; ``failures``: incidents
    on any CI (the caller leaves out the symptoms' own). Changes are weighed against
    ``first_symptom`` (default ``now``), failures counted from ``failure_window`` before it."""
    first = first_symptom or now
    anchor = FIRST if first_symptom is not None else NOW
    items = [i for a in dict.fromkeys(affected) if (i := graph.index(a)) is not None]
    unknown = [a for a in dict.fromkeys(affected) if graph.index(a) is None]
    searches, count, dist_sum = _reach(graph, items)
    weighed = _weigh(evidence, first, lookback, anchor)
    since = first - failure_window
    fails_by: dict[str, list[Evidence]] = {}
    for f in sorted(failures, key=lambda e: e.at, reverse=True):
        if since <= f.at <= now:
            fails_by.setdefault(f.ci_id, []).append(f)
    rows: list[_Row] = []
    for v in np.flatnonzero(count > 0).tolist():
        ci_id = graph.ids[v]
        change = max((ev.weight for ev in weighed.get(ci_id, [])), default=0.0)
        part = failure_weight(len(fails_by.get(ci_id, [])))
        rows.append(_Row(v, int(count[v]), float(dist_sum[v]) / float(count[v]), change, part))
    rows = _order(rows, graph, top)
    names = [graph.name(a) for a in items]
    out: list[CauseCandidate] = []
    # One more than shown, so the last one shown can say how a tie with the next was broken.
    for row in rows[: top + 1]:
        v = row.v
        if row.takes_down is None:
            row.takes_down = _takes_down(graph, v)
        paths, explains = _paths(graph, searches, v)
        changes = weighed.get(graph.ids[v], [])
        fails = fails_by.get(graph.ids[v], [])
        best = max(changes, key=lambda ev: (ev.weight, ev.at), default=None)
        out.append(
            CauseCandidate(
                id=graph.ids[v],
                name=graph.name(v),
                ci_class=graph.cis[v].ci_class,
                score=row.score,
                explained=len(explains),
                explains=explains,
                recency=round(row.change, 3),
                failure_weight=round(row.fails, 3),
                mean_distance=row.mean,
                takes_down=row.takes_down,
                changes=changes,
                failures=fails,
                reasons=[
                    _topology_reason(explains, [n for n in names if n not in explains], len(names)),
                    _change_reason(best, lookback, anchor),
                    _failure_reason(fails, failure_window),
                ],
                paths=paths,
            )
        )
    return CauseResult(
        affected=[graph.ids[i] for i in items],
        unknown=unknown,
        lookback_minutes=lookback.total_seconds() / 60.0,
        first_symptom=first,
        symptom_incidents=list(symptom_incidents),
        failure_window_days=failure_window.total_seconds() / 86400,
        candidates=with_ties(out)[:top],
    )


def _weigh(
    evidence: Sequence[Evidence], first: datetime, lookback: timedelta, anchor: str
) -> dict[str, list[Evidence]]:
    """Each change with its weight and note, per CI, latest first; those that ended more
    than the lookback before the first symptom are left out."""
    by_ci: dict[str, list[Evidence]] = {}
    for ev in evidence:
        if ev.at < first - lookback:
            continue
        weight, note = change_weight(ev, first, lookback, anchor=anchor)
        by_ci.setdefault(ev.ci_id, []).append(
            ev.model_copy(update={"weight": round(weight, 3), "note": note})
        )
    for evs in by_ci.values():
        evs.sort(key=lambda e: e.at, reverse=True)
    return by_ci


def _paths(
    graph: ImpactGraph, searches: list[tuple[int, IntArray, IntArray]], v: int
) -> tuple[list[ImpactPath], list[str]]:
    paths: list[ImpactPath] = []
    explains: list[str] = []
    for a, dist, parent in searches:
        if dist[v] < 0:
            continue
        explains.append(graph.name(a))
        nodes, edges = [v], []
        while nodes[-1] != a:
            e = int(parent[nodes[-1]])
            edges.append(e)
            nodes.append(int(graph.dst[e]))
        if edges:
            paths.append(path_of(graph, nodes, edges))
    return paths, explains
