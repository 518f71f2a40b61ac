"""A token scoped to services sees those services and what they depend on, nothing else.

"What they depend on" is the impact engine's upstream walk (impact.fetch, "walk"): every
CI whose failure can reach one of the services. Out-of-scope objects answer 404, as if
they did not exist, so a scoped caller cannot probe for ids.

A change, incident or problem record is read when it names at least one CI or service in
view (:func:`readable`, the rule the reports apply too; ids-level rules in
:mod:`cmdb.practice.scoped`), and shown with only the ids in
view: the CIs and services, and the linked records it reads (:func:`change_readable`,
:func:`incident_readable`). It is written only when everything it names is in view
(:func:`writable`). :func:`in_view` is the store as a scoped caller sees it, for answers
computed from many records (similar problems).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from cmdb.auth.tokens import Principal
from cmdb.domain.errors import Forbidden, NotFound
from cmdb.domain.model import CI, Relationship
from cmdb.domain.records import Incident, Problem, Record
from cmdb.practice.scoped import assessment_seen, named, reads, seen
from cmdb.store.contract import GraphStore, Neighbour, Subgraph
from impact.fetch import DEFAULT_MAX_DEPTH, fetch

# The record rules (cmdb/practice/scoped.py) are re-exported: the shells take them from here.
__all__ = [
    "SCOPE_MAX_NODES",
    "Visibility",
    "assessment_seen",
    "change_readable",
    "check_writable",
    "in_view",
    "incident_readable",
    "named",
    "readable",
    "seen",
    "writable",
]

SCOPE_MAX_NODES = 200_000


@dataclass(frozen=True)
class Visibility:
    """``ids is None``: the caller sees everything."""

    ids: frozenset[str] | None = None

    @property
    def unrestricted(self) -> bool:
        return self.ids is None

    def allows(self, ci_id: str) -> bool:
        return self.ids is None or ci_id in self.ids

    def allows_rel(self, rel: Relationship) -> bool:
        return self.allows(rel.source_id) and self.allows(rel.target_id)

    def check(self, ci_id: str, *, where: str = "ci") -> None:
        """NotFound for an id outside the scope (the same answer as a missing one)."""
        if not self.allows(ci_id):
            raise NotFound(f"no CI {ci_id!r}", where=where)

    def keep(self, ci_ids: Iterable[str]) -> list[str]:
        return [i for i in ci_ids if self.allows(i)]

    @classmethod
    def for_principal(
        cls, store: GraphStore, principal: Principal, *, as_of: datetime | None = None
    ) -> Visibility:
        if not principal.scoped:
            return cls(None)
        services = [s for s in principal.services if _exists(store, s)]
        if not services:
            return cls(frozenset())
        got = fetch(
            store,
            services,
            upstream=True,
            strategy="walk",
            max_depth=DEFAULT_MAX_DEPTH,
            max_nodes=SCOPE_MAX_NODES,
            as_of=as_of,
        )
        return cls(frozenset(got.subgraph.nodes) | frozenset(services))


def readable(vis: Visibility, rec: Record) -> bool:
    """Unscoped callers see every record; a scoped one those naming something it sees (the
    reports' rule: one rule, so a report counts exactly what the lists show)."""
    return reads(vis.ids, rec)


def writable(vis: Visibility, rec: Record) -> bool:
    """A scoped caller writes a record only when everything it names is in view (and it
    names something): a write must not touch what the caller cannot see."""
    ids = named(rec)
    return vis.unrestricted or (bool(ids) and all(vis.allows(i) for i in ids))


def check_writable(vis: Visibility, rec: Record, what: str) -> None:
    """Forbidden unless :func:`writable` (``what``: "amend it", "record it"...)."""
    if not writable(vis, rec):
        raise Forbidden(f"{rec.id} names CIs or services outside this token's scope: cannot {what}")


def change_readable(store: GraphStore, vis: Visibility, change_id: str) -> bool:
    """The caller reads the change (a missing one: no, whoever asks)."""
    try:
        return readable(vis, store.get_change(change_id))
    except NotFound:
        return False


def incident_readable(store: GraphStore, vis: Visibility, incident_id: str) -> bool:
    """The caller reads the incident (a missing one: no, whoever asks)."""
    try:
        return readable(vis, store.get_incident(incident_id))
    except NotFound:
        return False


class _InView:
    """The store as a scoped caller sees it, for answers scored over many records (similar
    problems): only CIs, relationships, incidents and problems in its view, the problems
    with only the ids it may see, so no evidence (and no reason naming a CI, a path or an
    incident) comes from outside it. Everything else is the store's."""

    def __init__(self, store: GraphStore, vis: Visibility) -> None:
        self._store = store
        self._vis = vis
        self._incidents: set[str] | None = None
        self._changes: set[str] | None = None

    def get_ci(self, ci_id: str, *, as_of: datetime | None = None) -> CI:
        self._vis.check(ci_id)
        return self._store.get_ci(ci_id, as_of=as_of)

    def get_cis(self, ids: Iterable[str]) -> dict[str, CI]:
        # Those out of view are absent, as a missing one is.
        return self._store.get_cis(i for i in ids if self._vis.allows(i))

    def get_relationships(self, ids: Iterable[str]) -> dict[str, Relationship]:
        got = self._store.get_relationships(ids)
        return {k: r for k, r in got.items() if self._vis.allows_rel(r)}

    def neighbours_of(self, ci_ids: Iterable[str]) -> dict[str, list[Neighbour]]:
        got = self._store.neighbours_of(i for i in ci_ids if self._vis.allows(i))
        return {i: [n for n in ns if self._vis.allows(n.ci.id)] for i, ns in got.items()}

    def subgraph(self, roots: Iterable[str], **kw: Any) -> Subgraph:
        got = self._store.subgraph(roots, **kw)
        return got.model_copy(
            update={
                "nodes": {i: c for i, c in got.nodes.items() if self._vis.allows(i)},
                "edges": [e for e in got.edges if self._vis.allows_rel(e)],
                "links": [
                    e
                    for e in got.links
                    if self._vis.allows(e.source_id) and self._vis.allows(e.target_id)
                ],
            }
        )

    def list_incidents(
        self,
        *,
        ci_id: str | None = None,
        open_only: bool = False,
        resolved_since: datetime | None = None,
    ) -> list[Incident]:
        found = self._store.list_incidents(
            ci_id=ci_id, open_only=open_only, resolved_since=resolved_since
        )
        return [seen(self._vis.ids, i) for i in found if readable(self._vis, i)]

    def list_problems(self, *, ci_id: str | None = None) -> list[Problem]:
        found = self._store.list_problems(ci_id=ci_id)
        return [self._shown(p) for p in found if readable(self._vis, p)]

    def _shown(self, problem: Problem) -> Problem:
        # Linked records by one scan each, only when some problem links any.
        if problem.incident_ids and self._incidents is None:
            self._incidents = {i.id for i in self.list_incidents()}
        if problem.change_ids and self._changes is None:
            self._changes = {c.id for c in self._store.list_changes() if readable(self._vis, c)}
        return seen(self._vis.ids, problem).model_copy(
            update={
                "incident_ids": [i for i in problem.incident_ids if i in (self._incidents or ())],
                "change_ids": [c for c in problem.change_ids if c in (self._changes or ())],
            }
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def in_view(store: GraphStore, vis: Visibility) -> GraphStore:
    """``store`` as the caller sees it (itself for an unscoped caller): see :class:`_InView`."""
    if vis.unrestricted:
        return store
    return cast(GraphStore, _InView(store, vis))


def _exists(store: GraphStore, ci_id: str) -> bool:
    try:
        store.get_ci(ci_id)
    except NotFound:
        return False
    return True
