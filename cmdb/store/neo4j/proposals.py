"""The Neo4j store's what-if proposals: each version a ``ProposalVersion`` node (migration
0009), only ever added. The unique ``key`` ("<id>@<version>") makes two writers that read
the same version unable to both add the next one: the second fails the constraint and is
answered, as a stale version is, with WriteConflict.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from neo4j import ManagedTransaction

from cmdb.domain.errors import IdentityConflict, NotFound, WriteConflict
from cmdb.domain.proposals import Proposal, ProposalState

T = TypeVar("T")

_LATEST = (
    "MATCH (p:ProposalVersion) WITH p.id AS id, max(p.version) AS v"
    " MATCH (q:ProposalVersion {id: id, version: v})"
)


def add_version(tx: ManagedTransaction, proposal: Proposal) -> None:
    """Create ``proposal`` as its id's next version, inside the caller's transaction
    (save_proposal's own, or apply's for a change set carrying proposals)."""
    got = tx.run(
        "OPTIONAL MATCH (p:ProposalVersion {id: $id}) RETURN max(p.version) AS v",
        id=proposal.id,
    ).single()
    latest = int(got["v"] or 0) if got is not None else 0
    if proposal.version != latest + 1:
        raise WriteConflict(
            f"proposal {proposal.id} is at version {latest}, not"
            f" {proposal.version - 1}: read it again",
            where="version",
        )
    tx.run(
        "CREATE (:ProposalVersion {key: $key, id: $id, version: $version,"
        " state: $state, doc: $doc})",
        key=f"{proposal.id}@{proposal.version}",
        id=proposal.id,
        version=proposal.version,
        state=proposal.state.value,
        doc=proposal.model_dump_json(),
    ).consume()


def version_race(exc: IdentityConflict, proposals: list[Proposal]) -> WriteConflict | None:
    """The WriteConflict a broken ``ProposalVersion`` key means (another writer added the
    same version between this transaction's check and its create), or None for another
    uniqueness rule."""
    if not proposals or "`ProposalVersion`" not in exc.message:
        return None
    which = ", ".join(f"{p.id} version {p.version}" for p in proposals)
    return WriteConflict(
        f"proposal {which} was just written by another caller: read it again",
        where="version",
    )


class ProposalNodes:
    """Mixed into Neo4jStore, which provides these."""

    def _rows(self, query: str, **params: Any) -> list[dict[str, Any]]:
        raise NotImplementedError

    def _write(self, fn: Callable[[ManagedTransaction], T]) -> T:
        raise NotImplementedError

    def save_proposal(self, proposal: Proposal) -> None:
        try:
            self._write(lambda tx: add_version(tx, proposal))
        except IdentityConflict as exc:  # the store's answer to a broken constraint
            raise WriteConflict(
                f"proposal {proposal.id} version {proposal.version} was just written by"
                " another caller: read it again",
                where="version",
            ) from exc

    def get_proposal(self, proposal_id: str, *, version: int | None = None) -> Proposal:
        if version is None:
            rows = self._rows(
                "MATCH (p:ProposalVersion {id: $id}) RETURN p.doc AS doc"
                " ORDER BY p.version DESC LIMIT 1",
                id=proposal_id,
            )
        else:
            rows = self._rows(
                "MATCH (p:ProposalVersion {key: $key}) RETURN p.doc AS doc",
                key=f"{proposal_id}@{version}",
            )
        if not rows:
            what = "" if version is None else f" version {version}"
            raise NotFound(f"no proposal {proposal_id}{what}", where="proposal")
        return Proposal.model_validate_json(rows[0]["doc"])

    def list_proposals(self, *, state: ProposalState | None = None) -> list[Proposal]:
        rows = self._rows(f"{_LATEST} RETURN q.doc AS doc, q.state AS state ORDER BY id")
        return [
            Proposal.model_validate_json(r["doc"])
            for r in rows
            if state is None or r["state"] == state.value
        ]

    def proposal_versions(self, proposal_id: str) -> list[Proposal]:
        rows = self._rows(
            "MATCH (p:ProposalVersion {id: $id}) RETURN p.doc AS doc ORDER BY p.version",
            id=proposal_id,
        )
        if not rows:
            raise NotFound(f"no proposal {proposal_id}", where="proposal")
        return [Proposal.model_validate_json(r["doc"]) for r in rows]
