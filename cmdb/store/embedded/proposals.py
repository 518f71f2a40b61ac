"""The embedded store's what-if proposals: every version a row of ``proposals`` (schema.py).

A version is only ever added, never rewritten: the next number is checked inside the
write transaction, so two writers that read the same version cannot both add the next.
"""

from __future__ import annotations

import sqlite3

from cmdb.domain.errors import NotFound, WriteConflict
from cmdb.domain.proposals import Proposal, ProposalState
from cmdb.store.embedded.tx import write_transaction


def add_version(conn: sqlite3.Connection, proposal: Proposal) -> None:
    """Insert ``proposal`` as its id's next version, inside the caller's write transaction
    (save_proposal's own, or apply's for a change set carrying proposals)."""
    row = conn.execute("SELECT max(version) FROM proposals WHERE id = ?", (proposal.id,)).fetchone()
    latest = int(row[0] or 0)
    if proposal.version != latest + 1:
        raise WriteConflict(
            f"proposal {proposal.id} is at version {latest}, not"
            f" {proposal.version - 1}: read it again",
            where="version",
        )
    conn.execute(
        "INSERT INTO proposals (id, version, state, doc) VALUES (?,?,?,?)",
        (proposal.id, proposal.version, proposal.state.value, proposal.model_dump_json()),
    )


class ProposalRows:
    """Mixed into EmbeddedStore, which provides these two."""

    def _conn(self) -> sqlite3.Connection:
        raise NotImplementedError

    def _begin_write(self, conn: sqlite3.Connection) -> None:
        raise NotImplementedError

    def save_proposal(self, proposal: Proposal) -> None:
        with write_transaction(self._conn(), self._begin_write) as conn:
            add_version(conn, proposal)

    def get_proposal(self, proposal_id: str, *, version: int | None = None) -> Proposal:
        if version is None:
            sql = "SELECT doc FROM proposals WHERE id = ? ORDER BY version DESC LIMIT 1"
            params: tuple[object, ...] = (proposal_id,)
        else:
            sql = "SELECT doc FROM proposals WHERE id = ? AND version = ?"
            params = (proposal_id, version)
        row = self._conn().execute(sql, params).fetchone()
        if row is None:
            what = "" if version is None else f" version {version}"
            raise NotFound(f"no proposal {proposal_id}{what}", where="proposal")
        return Proposal.model_validate_json(row[0])

    def list_proposals(self, *, state: ProposalState | None = None) -> list[Proposal]:
        rows = (
            self._conn()
            .execute(
                "SELECT p.doc, p.state FROM proposals p WHERE p.version ="
                " (SELECT max(q.version) FROM proposals q WHERE q.id = p.id) ORDER BY p.id"
            )
            .fetchall()
        )
        return [
            Proposal.model_validate_json(doc)
            for doc, st in rows
            if state is None or st == state.value
        ]

    def proposal_versions(self, proposal_id: str) -> list[Proposal]:
        rows = (
            self._conn()
            .execute("SELECT doc FROM proposals WHERE id = ? ORDER BY version", (proposal_id,))
            .fetchall()
        )
        if not rows:
            raise NotFound(f"no proposal {proposal_id}", where="proposal")
        return [Proposal.model_validate_json(r[0]) for r in rows]
