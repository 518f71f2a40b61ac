"""The embedded store's outbox, webhook rules and deliveries (tables in schema.py).

``write_events`` runs inside ``apply``'s transaction; the rest are small transactions of
their own. A mixin, so the store's own module keeps to the graph.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime

from cmdb.domain.errors import NotFound, StoreUnavailable
from cmdb.domain.events import Delivery, Event, WebhookRule
from cmdb.store.embedded.tx import write_transaction
from cmdb.store.timefmt import to_text


def write_events(conn: sqlite3.Connection, events: Sequence[Event]) -> None:
    conn.executemany(
        "INSERT INTO events (id, type, doc) VALUES (?,?,?)",
        [(e.id, e.type.value, e.model_dump_json(exclude={"seq"})) for e in events],
    )


def _event(row: Sequence[object]) -> Event:
    e = Event.model_validate_json(str(row[1]))
    e.seq = int(str(row[0]))
    return e


def _delivery_row(d: Delivery) -> tuple[str, str, int, str, str, str]:
    return (
        d.id,
        d.rule_id,
        d.event_seq,
        d.state.value,
        to_text(d.next_attempt_at),
        d.model_dump_json(),
    )


class OutboxRows:
    """Mixed into EmbeddedStore, which provides these three."""

    path: str

    def _conn(self) -> sqlite3.Connection:
        raise NotImplementedError

    def _begin_write(self, conn: sqlite3.Connection) -> None:
        raise NotImplementedError

    def _small_write(self, statements: Sequence[tuple[str, Sequence[object]]]) -> list[int]:
        """Statements in one write transaction; the row counts they changed."""
        with write_transaction(self._conn(), self._begin_write) as conn:
            return [conn.execute(sql, params).rowcount for sql, params in statements]

    def read_events(self, *, after_seq: int = 0, limit: int = 100) -> list[Event]:
        rows = (
            self._conn()
            .execute(
                "SELECT seq, doc FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                (after_seq, limit),
            )
            .fetchall()
        )
        return [_event(r) for r in rows]

    def last_event_seq(self) -> int:
        # AUTOINCREMENT's own record too: once retention purged every event, max(seq)
        # alone would start again at 0.
        row = (
            self._conn()
            .execute(
                "SELECT max(coalesce((SELECT max(seq) FROM events), 0),"
                " coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0))"
            )
            .fetchone()
        )
        return int(row[0] or 0)

    def get_event(self, event_id: str) -> Event:
        row = (
            self._conn().execute("SELECT seq, doc FROM events WHERE id = ?", (event_id,)).fetchone()
        )
        if row is None:
            raise NotFound(f"no event {event_id}", where="event_id")
        return _event(row)

    def save_webhook_rule(self, rule: WebhookRule) -> None:
        self._small_write(
            [
                (
                    "INSERT INTO webhook_rules (id, doc) VALUES (?,?)"
                    " ON CONFLICT(id) DO UPDATE SET doc = excluded.doc",
                    (rule.id, rule.model_dump_json()),
                )
            ]
        )

    def _doc(self, table: str, key: str, what: str, where: str) -> str:
        """The document stored under ``key`` in ``table`` (a fixed name), or NotFound."""
        row = self._conn().execute(f"SELECT doc FROM {table} WHERE id = ?", (key,)).fetchone()
        if row is None:
            raise NotFound(f"no {what} {key}", where=where)
        return str(row[0])

    def get_webhook_rule(self, rule_id: str) -> WebhookRule:
        doc = self._doc("webhook_rules", rule_id, "webhook rule", "rule_id")
        return WebhookRule.model_validate_json(doc)

    def list_webhook_rules(self) -> list[WebhookRule]:
        rows = self._conn().execute("SELECT doc FROM webhook_rules ORDER BY id").fetchall()
        return [WebhookRule.model_validate_json(r[0]) for r in rows]

    def delete_webhook_rule(self, rule_id: str) -> None:
        counts = self._small_write(
            [
                ("DELETE FROM webhook_rules WHERE id = ?", (rule_id,)),
                ("DELETE FROM deliveries WHERE rule_id = ?", (rule_id,)),
            ]
        )
        if counts[0] == 0:
            raise NotFound(f"no webhook rule {rule_id}", where="rule_id")

    def queue_deliveries(self, deliveries: list[Delivery], *, cursor: str, seq: int) -> int:
        stmts: list[tuple[str, Sequence[object]]] = [
            (
                "INSERT OR IGNORE INTO deliveries (id, rule_id, event_seq, state, next_at, doc)"
                " VALUES (?,?,?,?,?,?)",
                _delivery_row(d),
            )
            for d in deliveries
        ]
        stmts.append(
            (
                "INSERT INTO outbox_cursors (name, seq) VALUES (?, ?)"
                " ON CONFLICT(name) DO UPDATE SET seq = max(seq, excluded.seq)",
                (cursor, seq),
            )
        )
        return sum(self._small_write(stmts)[:-1])

    def outbox_cursor(self, name: str) -> int:
        row = (
            self._conn()
            .execute("SELECT seq FROM outbox_cursors WHERE name = ?", (name,))
            .fetchone()
        )
        return 0 if row is None else int(row[0])

    def save_delivery(self, delivery: Delivery) -> None:
        self._small_write(
            [
                (
                    "INSERT INTO deliveries (id, rule_id, event_seq, state, next_at, doc)"
                    " VALUES (?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET state = excluded.state,"
                    " next_at = excluded.next_at, doc = excluded.doc",
                    _delivery_row(delivery),
                )
            ]
        )

    def get_delivery(self, delivery_id: str) -> Delivery:
        return Delivery.model_validate_json(
            self._doc("deliveries", delivery_id, "delivery", "delivery_id")
        )

    def due_deliveries(self, now: datetime, *, limit: int = 100) -> list[Delivery]:
        rows = (
            self._conn()
            .execute(
                "SELECT doc FROM deliveries WHERE state = 'pending' AND next_at <= ?"
                " ORDER BY event_seq, id LIMIT ?",
                (to_text(now), limit),
            )
            .fetchall()
        )
        return [Delivery.model_validate_json(r[0]) for r in rows]

    def claim_due(self, now: datetime, *, until: datetime, limit: int = 10) -> list[Delivery]:
        conn = self._conn()
        self._begin_write(conn)  # one writer at a time: claims cannot overlap
        try:
            rows = conn.execute(
                "SELECT doc FROM deliveries WHERE state = 'pending' AND next_at <= ?"
                " ORDER BY event_seq, id LIMIT ?",
                (to_text(now), limit),
            ).fetchall()
            taken = [
                Delivery.model_validate_json(r[0]).model_copy(update={"next_attempt_at": until})
                for r in rows
            ]
            conn.executemany(
                "UPDATE deliveries SET next_at = ?, doc = ? WHERE id = ?",
                [(to_text(until), d.model_dump_json(), d.id) for d in taken],
            )
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            conn.execute("ROLLBACK")
            raise StoreUnavailable(f"the write failed and was rolled back: {exc}") from exc
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return taken

    def list_deliveries(self, rule_id: str, *, limit: int = 50) -> list[Delivery]:
        rows = (
            self._conn()
            .execute(
                "SELECT doc FROM deliveries WHERE rule_id = ? ORDER BY event_seq DESC LIMIT ?",
                (rule_id, limit),
            )
            .fetchall()
        )
        return [Delivery.model_validate_json(r[0]) for r in rows]

    def purge_outbox(self, *, upto_seq: int, finished_before: datetime) -> tuple[int, int]:
        # One write transaction: a delivery queued meanwhile (replay) waits for it, and
        # then finds its event gone only if no delivery held it when this ran.
        counts = self._small_write(
            [
                (
                    "DELETE FROM deliveries WHERE state IN ('delivered', 'failed')"
                    " AND event_seq <= ? AND next_at < ?",
                    (upto_seq, to_text(finished_before)),
                ),
                (
                    "DELETE FROM events WHERE seq <= ? AND seq NOT IN"
                    " (SELECT event_seq FROM deliveries WHERE event_seq <= ?)",
                    (upto_seq, upto_seq),
                ),
            ]
        )
        return counts[1], counts[0]
