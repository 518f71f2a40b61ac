"""The delivery worker: every event to every rule that wants it, at least once.

One pass (``Worker.run_once``):

1. Events after the worker's cursor are read from the outbox, a delivery is queued for
   each rule that wants each, and the cursor moves, in one store transaction. A worker
   killed before that reads the same events again; a delivery already queued is kept.
2. Every delivery that is due is taken (``claim_due``: for a lease, so that several workers
   never send one at once) and sent: a POST of the event as JSON, signed per the
   Standard Webhooks convention (``webhook-id``, ``webhook-timestamp``,
   ``webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">``). A 2xx answer
   delivers it; anything else is logged on the delivery and retried with exponential
   backoff (the next attempt's time is stored, so a restarted worker resumes), until the
   attempts run out and it is marked failed (``replay`` sends it again).

A delivery is marked delivered only after the receiver answered, so one whose worker was
killed in between is sent again once its lease ends (by another worker, or the same one
restarted): at least once, with the same ``webhook-id`` every time.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import backoff
import httpx
import orjson
from standardwebhooks.webhooks import Webhook

from cmdb.app.caller import Caller, unscoped_only
from cmdb.app.observe import delivery_attempted
from cmdb.app.webhook_transport import CheckedTransport
from cmdb.app.webhooks import check_url
from cmdb.config import Settings
from cmdb.domain.errors import CmdbError, InvalidInput, NotFound
from cmdb.domain.events import Attempt, Delivery, DeliveryState, Event, WebhookRule, delivery_id
from cmdb.store.contract import GraphStore

log = logging.getLogger("cmdb.webhooks")

CURSOR = "webhooks"
KEEP_ATTEMPTS = 20  # the latest attempts kept in a delivery's log
USER_AGENT = "graph-cmdb-webhooks"


@dataclass(frozen=True)
class WorkerConfig:
    allow_private: bool = False
    timeout_s: float = 10.0
    max_attempts: int = 10
    backoff_base_s: float = 5.0
    backoff_max_s: float = 3600.0
    batch: int = 200  # events read from the outbox at a time
    claim: int = 10  # deliveries a worker takes at a time
    # How long a worker holds the deliveries it took: no other worker sends them meanwhile,
    # and one that dies holding them leaves them to the next worker after this.
    lease_s: float = 300.0
    # Retention: finished deliveries and their events older than this are purged, every
    # purge_every_s by the running worker (0 days: never).
    retention_days: float = 30.0
    purge_every_s: float = 3600.0


def retry_delay(attempts: int, cfg: WorkerConfig) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones: exponential from
    ``backoff_base_s``, capped at ``backoff_max_s``, with up to a second of jitter
    (the ``backoff`` library's schedule and jitter, read one step at a time)."""
    gen = backoff.expo(base=2, factor=cfg.backoff_base_s, max_value=cfg.backoff_max_s)
    next(gen)  # the generator's first step only primes it
    delay: float = next(itertools.islice(gen, max(attempts - 1, 0), None))
    return float(backoff.random_jitter(delay))


def body_of(event: Event) -> bytes:
    return orjson.dumps(event.body())


def signed_headers(secret: str, msg_id: str, at: datetime, body: bytes) -> dict[str, str]:
    """The Standard Webhooks headers for one attempt."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


@dataclass
class PassResult:
    queued: int = 0
    delivered: int = 0
    failed: int = 0  # attempts that failed this pass (retried later or given up)


class Worker:
    def __init__(
        self,
        store: GraphStore,
        cfg: WorkerConfig,
        *,
        client: httpx.Client | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.cfg = cfg
        self.clock = clock
        # No redirects: one would lead the request to an address nobody checked. The
        # transport checks the address each connection reaches (DNS rebinding).
        self.client = client or httpx.Client(
            timeout=httpx.Timeout(cfg.timeout_s),
            follow_redirects=False,
            transport=CheckedTransport(allow_private=cfg.allow_private),
        )

    def close(self) -> None:
        self.client.close()

    # -- 1: the outbox into deliveries --------------------------------------------------
    def queue(self) -> int:
        """Every event after the cursor queued for the rules that want it, a batch of events
        (one transaction) at a time; how many deliveries were added."""
        added = 0
        self._skip_unwanted()
        while True:
            cursor = self.store.outbox_cursor(CURSOR)
            events = self.store.read_events(after_seq=cursor, limit=self.cfg.batch)
            if not events:
                return added
            added += self._queue(events)

    def _skip_unwanted(self) -> None:
        """Move the cursor past events no rule can want: each rule is sent only what
        follows its ``after_seq``, and a rule made later starts after the outbox's end
        then. So a first worker on a long outbox does not read it all for nothing."""
        rules = self.store.list_webhook_rules()
        floor = min((r.after_seq for r in rules), default=None)
        if floor is None:
            floor = self.store.last_event_seq()
        if self.store.outbox_cursor(CURSOR) < floor:
            self.store.queue_deliveries([], cursor=CURSOR, seq=floor)

    def _queue(self, events: list[Event]) -> int:
        rules = self.store.list_webhook_rules()
        now = self.clock()
        queued = [
            Delivery(
                id=delivery_id(e.id, r.id),
                rule_id=r.id,
                event_id=e.id,
                event_seq=e.seq,
                event_type=e.type,
                next_attempt_at=now,
                created_at=now,
            )
            for e in events
            for r in rules
            # A rule is sent what happens once it exists (replay sends older events).
            if r.wants(e.type) and e.seq > r.after_seq
        ]
        return self.store.queue_deliveries(queued, cursor=CURSOR, seq=events[-1].seq)

    # -- 2: due deliveries out ------------------------------------------------------------
    def send(self, d: Delivery, rule: WebhookRule, event: Event) -> Delivery:
        """One attempt; the delivery as it stands after it (not yet saved)."""
        at = self.clock()
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        try:
            url = check_url(rule.url, allow_private=self.cfg.allow_private)
            body = body_of(event)
            answer = self.client.post(
                url, content=body, headers=signed_headers(rule.secret, d.id, at, body)
            )
            status = answer.status_code
            if not answer.is_success:
                error = f"HTTP {status}"
        except CmdbError as exc:
            error = exc.message
        except Exception as exc:  # the receiver's side (httpx.HTTPError, InvalidURL, TLS...)
            # Recorded as this attempt's failure: an exception out of here would leave the
            # delivery taken until its lease ends, retried without ever counting attempts.
            error = f"{type(exc).__name__}: {exc}"[:500]
        attempt = Attempt(
            at=at,
            status_code=status,
            error=error,
            duration_ms=int((time.monotonic() - started) * 1000),
        )
        tries = d.attempts + 1
        update: dict[str, object] = {"attempts": tries, "log": [*d.log, attempt][-KEEP_ATTEMPTS:]}
        # A finished delivery's next_attempt_at is when it finished: retention counts
        # from there (purge_outbox).
        if error is None:
            update["state"] = DeliveryState.DELIVERED
            update["next_attempt_at"] = at
        elif tries >= self.cfg.max_attempts:
            update["state"] = DeliveryState.FAILED
            update["next_attempt_at"] = at
        else:
            update["next_attempt_at"] = at + timedelta(seconds=retry_delay(tries, self.cfg))
        return d.model_copy(update=update)

    def deliver_due(self, result: PassResult) -> None:
        rules: dict[str, WebhookRule | None] = {}
        while True:
            now = self.clock()
            until = now + timedelta(seconds=self.cfg.lease_s)
            taken = self.store.claim_due(now, until=until, limit=self.cfg.claim)
            if not taken:
                return
            self._deliver(taken, rules, result)

    def _deliver(
        self, taken: list[Delivery], rules: dict[str, WebhookRule | None], result: PassResult
    ) -> None:
        for d in taken:
            if d.rule_id not in rules:
                try:
                    rules[d.rule_id] = self.store.get_webhook_rule(d.rule_id)
                except NotFound:
                    rules[d.rule_id] = None
            rule = rules[d.rule_id]
            if rule is None:
                continue  # deleted meanwhile (its deliveries go with it)
            if not rule.enabled:
                # Waits, without spending an attempt, until the rule is enabled again.
                later = self.clock() + timedelta(seconds=min(60.0, self.cfg.backoff_max_s))
                self.store.save_delivery(d.model_copy(update={"next_attempt_at": later}))
                continue
            try:
                event = self.store.get_event(d.event_id)
            except NotFound:
                # Purged by retention while a replay queued it: nothing left to send.
                gone = Attempt(at=self.clock(), error="the event was purged (retention)")
                self.store.save_delivery(
                    d.model_copy(
                        update={
                            "state": DeliveryState.FAILED,
                            "next_attempt_at": gone.at,
                            "log": [*d.log, gone][-KEEP_ATTEMPTS:],
                        }
                    )
                )
                result.failed += 1
                continue
            done = self.send(d, rule, event)
            self.store.save_delivery(done)
            took = done.log[-1].duration_ms / 1000 if done.log else 0.0
            if done.state is DeliveryState.DELIVERED:
                result.delivered += 1
                delivery_attempted("delivered", took)
            else:
                result.failed += 1
                gave_up = done.state is DeliveryState.FAILED
                delivery_attempted("failed" if gave_up else "retrying", took)
                log.warning(
                    "webhook %s to rule %s failed (attempt %d): %s",
                    d.id,
                    rule.id,
                    done.attempts,
                    done.log[-1].error,
                )

    def run_once(self) -> PassResult:
        result = PassResult(queued=self.queue())
        self.deliver_due(result)
        return result

    def purge(self) -> Purged:
        """Retention now: see :func:`purge`."""
        return purge(self.store, timedelta(days=self.cfg.retention_days), now=self.clock())

    def run(self, stop: threading.Event, *, interval_s: float = 1.0) -> None:
        """Passes until ``stop`` is set; a failing pass (the store down) is logged and
        tried again after the interval. Every ``purge_every_s`` (from the start) old
        finished deliveries and events are purged, unless retention is 0."""
        next_purge = time.monotonic()
        while not stop.is_set():
            if self.cfg.retention_days > 0 and time.monotonic() >= next_purge:
                next_purge = time.monotonic() + self.cfg.purge_every_s
                try:
                    gone = self.purge()
                    if gone.events or gone.deliveries:
                        log.info(
                            "webhook retention: purged %d events, %d deliveries",
                            gone.events,
                            gone.deliveries,
                        )
                except Exception:
                    log.exception("webhook retention purge failed")
            try:
                result = self.run_once()
            except Exception:
                log.exception("webhook delivery pass failed")
                result = PassResult()
            if result.queued == 0 and result.delivered == 0 and result.failed == 0:
                stop.wait(interval_s)


@dataclass(frozen=True)
class Purged:
    events: int
    deliveries: int
    before: datetime


def purge(store: GraphStore, older_than: timedelta, *, now: datetime) -> Purged:
    """Delete finished (delivered or failed) deliveries that finished more than
    ``older_than`` ago, then the events that old which no delivery is left for. Never an
    event the worker has not queued yet (after its cursor), nor one a pending delivery
    still has to send, nor anything newer."""
    before = now - older_than
    cursor = store.outbox_cursor(CURSOR)
    # Events are numbered in commit order and their times never go back (each store keeps
    # its clock monotonic), so "older than" is a prefix of the outbox: find its end.
    upto, after = 0, 0
    while True:
        batch = store.read_events(after_seq=after, limit=1000)
        old = [e for e in batch if e.seq <= cursor and e.occurred_at < before]
        if old:
            upto = old[-1].seq
        if len(old) < len(batch) or not batch:
            break
        after = batch[-1].seq
    if upto == 0:
        return Purged(0, 0, before)
    events, deliveries = store.purge_outbox(upto_seq=upto, finished_before=before)
    return Purged(events, deliveries, before)


def purge_finished(
    store: GraphStore,
    caller: Caller,
    *,
    older_than_days: float | None,
    retention_days: float,
    now: datetime | None = None,
) -> Purged:
    """``cmdb webhooks purge``: retention now, over ``older_than_days`` or the setting."""
    unscoped_only(caller.principal, "purge the event outbox")
    days = retention_days if older_than_days is None else older_than_days
    if older_than_days is None and days == 0:
        raise InvalidInput(
            "retention is off (CMDB_WEBHOOKS_RETENTION_DAYS=0); give --older-than DAYS",
            where="--older-than",
        )
    if days < 0:
        raise InvalidInput("a number of days of at least 0", where="--older-than")
    return purge(store, timedelta(days=days), now=now or datetime.now(UTC))


def config_of(settings: Settings) -> WorkerConfig:
    return WorkerConfig(
        retention_days=settings.webhooks_retention_days,
        allow_private=settings.webhooks_allow_private,
        timeout_s=settings.webhooks_timeout_s,
        max_attempts=settings.webhooks_max_attempts,
        backoff_base_s=settings.webhooks_backoff_base_s,
        backoff_max_s=settings.webhooks_backoff_max_s,
    )
