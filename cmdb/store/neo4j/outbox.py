"""The Neo4j store's outbox, webhook rules and deliveries (migration 0007).

``write_events`` runs inside ``apply``'s write transaction and numbers the events from the
store's meta counter, which every write locks first (cypher.META): seq order is commit
order. The rest are small managed transactions of their own. A mixin, so the store's own
module keeps to the graph.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from neo4j import ManagedTransaction

from cmdb.domain.errors import NotFound
from cmdb.domain.events import Delivery, Event, WebhookRule
from cmdb.store.timefmt import to_text

T = TypeVar("T")
PURGE_BATCH = 10_000  # rows deleted per transaction by the retention purge

_CREATE_EVENTS = """
UNWIND $rows AS row
CREATE (:OutboxEvent {id: row.id, seq: row.seq, type: row.type, doc: row.doc})
"""
_DELIVERY_SET = (
    "d.rule_id = row.rule_id, d.event_seq = row.event_seq, d.state = row.state,"
    " d.next_at = row.next_at, d.doc = row.doc"
)


def write_events(tx: ManagedTransaction, events: Sequence[Event], seq: int) -> int:
    """Create the events numbered after ``seq``; the last number used."""
    rows = []
    for e in events:
        seq += 1
        rows.append(
            {
                "id": e.id,
                "seq": seq,
                "type": e.type.value,
                "doc": e.model_dump_json(exclude={"seq"}),
            }
        )
    if rows:
        tx.run(_CREATE_EVENTS, rows=rows).consume()
    return seq


def _event(r: dict[str, Any]) -> Event:
    e = Event.model_validate_json(r["doc"])
    e.seq = int(r["seq"])
    return e


def _delivery_row(d: Delivery) -> dict[str, Any]:
    return {
        "id": d.id,
        "rule_id": d.rule_id,
        "event_seq": d.event_seq,
        "state": d.state.value,
        "next_at": to_text(d.next_attempt_at),
        "doc": d.model_dump_json(),
    }


class OutboxNodes:
    """Mixed into Neo4jStore, which provides these."""

    def _rows(self, query: str, **params: Any) -> list[dict[str, Any]]:
        raise NotImplementedError

    def _write(self, fn: Callable[[ManagedTransaction], T]) -> T:
        raise NotImplementedError

    def _run_write(self, query: str, **params: Any) -> list[dict[str, Any]]:
        def work(tx: ManagedTransaction) -> list[dict[str, Any]]:
            return [r.data() for r in tx.run(query, **params)]

        return self._write(work)

    def read_events(self, *, after_seq: int = 0, limit: int = 100) -> list[Event]:
        rows = self._rows(
            "MATCH (e:OutboxEvent) WHERE e.seq > $after RETURN e.seq AS seq, e.doc AS doc"
            " ORDER BY e.seq LIMIT $limit",
            after=after_seq,
            limit=limit,
        )
        return [_event(r) for r in rows]

    def last_event_seq(self) -> int:
        # The meta counter numbers history rows and events alike, and only grows.
        rows = self._rows("MATCH (m:CmdbMeta {name: 'cmdb'}) RETURN m.seq AS seq")
        return int(rows[0]["seq"]) if rows else 0

    def get_event(self, event_id: str) -> Event:
        rows = self._rows(
            "MATCH (e:OutboxEvent {id: $id}) RETURN e.seq AS seq, e.doc AS doc", id=event_id
        )
        if not rows:
            raise NotFound(f"no event {event_id}", where="event_id")
        return _event(rows[0])

    def save_webhook_rule(self, rule: WebhookRule) -> None:
        def work(tx: ManagedTransaction) -> None:
            # Under the meta node's lock, as every write: a write in flight commits first
            # (and owes a new rule nothing), a later one reads the rule (store/outbox.py).
            tx.run("MATCH (m:CmdbMeta {name: 'cmdb'}) SET m.seq = m.seq").consume()
            tx.run(
                "MERGE (r:WebhookRule {id: $id}) SET r.doc = $doc",
                id=rule.id,
                doc=rule.model_dump_json(),
            ).consume()

        self._write(work)

    def get_webhook_rule(self, rule_id: str) -> WebhookRule:
        rows = self._rows("MATCH (r:WebhookRule {id: $id}) RETURN r.doc AS doc", id=rule_id)
        if not rows:
            raise NotFound(f"no webhook rule {rule_id}", where="rule_id")
        return WebhookRule.model_validate_json(rows[0]["doc"])

    def list_webhook_rules(self) -> list[WebhookRule]:
        rows = self._rows("MATCH (r:WebhookRule) RETURN r.doc AS doc ORDER BY r.id")
        return [WebhookRule.model_validate_json(r["doc"]) for r in rows]

    def delete_webhook_rule(self, rule_id: str) -> None:
        def work(tx: ManagedTransaction) -> int:
            found = tx.run(
                "MATCH (r:WebhookRule {id: $id}) DELETE r RETURN count(*) AS n", id=rule_id
            ).single(strict=True)["n"]
            tx.run("MATCH (d:WebhookDelivery {rule_id: $id}) DELETE d", id=rule_id).consume()
            return int(found)

        if self._write(work) == 0:
            raise NotFound(f"no webhook rule {rule_id}", where="rule_id")

    def queue_deliveries(self, deliveries: list[Delivery], *, cursor: str, seq: int) -> int:
        def work(tx: ManagedTransaction) -> int:
            added = tx.run(
                "UNWIND $rows AS row MERGE (d:WebhookDelivery {id: row.id})"
                f" ON CREATE SET {_DELIVERY_SET}, d.new = true"
                " WITH d WHERE d.new REMOVE d.new RETURN count(d) AS n",
                rows=[_delivery_row(d) for d in deliveries],
            ).single(strict=True)["n"]
            tx.run(
                "MERGE (c:OutboxCursor {name: $name}) ON CREATE SET c.seq = $seq"
                " SET c.seq = CASE WHEN c.seq > $seq THEN c.seq ELSE $seq END",
                name=cursor,
                seq=seq,
            ).consume()
            return int(added)

        return self._write(work)

    def outbox_cursor(self, name: str) -> int:
        rows = self._rows("MATCH (c:OutboxCursor {name: $name}) RETURN c.seq AS seq", name=name)
        return int(rows[0]["seq"]) if rows else 0

    def save_delivery(self, delivery: Delivery) -> None:
        self._run_write(
            f"WITH $row AS row MERGE (d:WebhookDelivery {{id: row.id}}) SET {_DELIVERY_SET}",
            row=_delivery_row(delivery),
        )

    def get_delivery(self, delivery_id: str) -> Delivery:
        rows = self._rows("MATCH (d:WebhookDelivery {id: $id}) RETURN d.doc AS doc", id=delivery_id)
        if not rows:
            raise NotFound(f"no delivery {delivery_id}", where="delivery_id")
        return Delivery.model_validate_json(rows[0]["doc"])

    def due_deliveries(self, now: datetime, *, limit: int = 100) -> list[Delivery]:
        rows = self._rows(
            "MATCH (d:WebhookDelivery) WHERE d.state = 'pending' AND d.next_at <= $now"
            " RETURN d.doc AS doc ORDER BY d.event_seq, d.id LIMIT $limit",
            now=to_text(now),
            limit=limit,
        )
        return [Delivery.model_validate_json(r["doc"]) for r in rows]

    def claim_due(self, now: datetime, *, until: datetime, limit: int = 10) -> list[Delivery]:
        def work(tx: ManagedTransaction) -> list[Delivery]:
            # One lock for every claimer, taken first: the MATCH below then reads what an
            # earlier claimer committed (read committed), so two claims never overlap.
            tx.run(
                "MERGE (c:OutboxCursor {name: '_claims'}) ON CREATE SET c.seq = 0"
                " SET c.seq = c.seq + 1"
            ).consume()
            rows = tx.run(
                "MATCH (d:WebhookDelivery) WHERE d.state = 'pending' AND d.next_at <= $now"
                " RETURN d.doc AS doc ORDER BY d.event_seq, d.id LIMIT $limit",
                now=to_text(now),
                limit=limit,
            ).data()
            taken = [
                Delivery.model_validate_json(r["doc"]).model_copy(update={"next_attempt_at": until})
                for r in rows
            ]
            tx.run(
                f"UNWIND $rows AS row MATCH (d:WebhookDelivery {{id: row.id}}) SET {_DELIVERY_SET}",
                rows=[_delivery_row(d) for d in taken],
            ).consume()
            return taken

        return self._write(work)

    def list_deliveries(self, rule_id: str, *, limit: int = 50) -> list[Delivery]:
        rows = self._rows(
            "MATCH (d:WebhookDelivery {rule_id: $rule}) RETURN d.doc AS doc"
            " ORDER BY d.event_seq DESC LIMIT $limit",
            rule=rule_id,
            limit=limit,
        )
        return [Delivery.model_validate_json(r["doc"]) for r in rows]

    def purge_outbox(self, *, upto_seq: int, finished_before: datetime) -> tuple[int, int]:
        # In batches, a transaction each, so a long backlog does not make one huge
        # transaction; deleting is idempotent, so a batch retried or cut short is harmless.
        deliveries = events = 0
        while True:
            n = self._write(
                lambda tx: int(
                    tx.run(
                        "MATCH (d:WebhookDelivery) WHERE d.state IN ['delivered', 'failed']"
                        " AND d.event_seq <= $upto AND d.next_at < $before"
                        " WITH d LIMIT $batch DELETE d RETURN count(*) AS n",
                        upto=upto_seq,
                        before=to_text(finished_before),
                        batch=PURGE_BATCH,
                    ).single(strict=True)["n"]
                )
            )
            deliveries += n
            if n < PURGE_BATCH:
                break
        while True:
            n = self._write(
                lambda tx: int(
                    tx.run(
                        # The events some delivery still holds, read in the transaction
                        # that deletes the others (few: pending or recently finished).
                        "OPTIONAL MATCH (d:WebhookDelivery) WHERE d.event_seq <= $upto"
                        " WITH collect(DISTINCT d.event_seq) AS kept"
                        " MATCH (e:OutboxEvent) WHERE e.seq <= $upto AND NOT e.seq IN kept"
                        " WITH e LIMIT $batch DELETE e RETURN count(*) AS n",
                        upto=upto_seq,
                        batch=PURGE_BATCH,
                    ).single(strict=True)["n"]
                )
            )
            events += n
            if n < PURGE_BATCH:
                break
        return events, deliveries
