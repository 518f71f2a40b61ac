"""Webhook rules: create, list, enable or disable, delete; their delivery logs; replay.

What REST, GraphQL and the CLI all call. A rule's URL is checked here (reliability 22):
http or https only, and no private, loopback, link-local or otherwise internal address
unless the setting ``CMDB_WEBHOOKS_ALLOW_PRIVATE`` allows it; the delivery worker checks
again before every attempt, since a name may resolve elsewhere later, and its transport
checks the address each connection actually reaches (``cmdb.app.webhook_transport``).
"""

from __future__ import annotations

import base64
import ipaddress
import re
import secrets
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from cmdb.app.caller import Caller, unscoped_only
from cmdb.domain.errors import InvalidInput, NotFound
from cmdb.domain.events import (
    Delivery,
    DeliveryState,
    Event,
    EventType,
    WebhookRule,
    delivery_id,
)
from cmdb.store.contract import GraphStore

MAX_URL = 2048
_RULE_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


def _addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (OSError, ValueError) as exc:  # UnicodeError is a ValueError (bad IDNA)
        raise InvalidInput(f"cannot resolve {host}: {exc}", where="url") from exc
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def internal_address(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return (
        addr.is_private
        or addr.is_loopback
        or addr.is_link_local
        or addr.is_unspecified
        or addr.is_multicast
        or addr.is_reserved
        or not addr.is_global
    )


def check_url(url: str, *, allow_private: bool) -> str:
    """The URL if a webhook may be sent to it; InvalidInput (naming why) if not. Resolves
    the host: every address it has must be public, unless ``allow_private``."""
    if len(url) > MAX_URL:
        raise InvalidInput(f"a URL of at most {MAX_URL} characters", where="url")
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as exc:  # e.g. an unclosed [IPv6] bracket
        raise InvalidInput(f"not a URL: {exc}", where="url") from exc
    if parts.scheme not in ("http", "https"):
        raise InvalidInput(
            f"only http and https URLs are sent webhooks, not {parts.scheme or 'none'!r}",
            where="url",
        )
    if not host:
        raise InvalidInput("the URL names no host", where="url")
    if parts.username or parts.password:
        raise InvalidInput("credentials in the URL are refused; sign with the secret", where="url")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise InvalidInput(f"bad port: {exc}", where="url") from exc
    if allow_private:
        return url
    for addr in _addresses(host, port):
        if internal_address(addr):
            who = host if str(addr) == host else f"{host} ({addr})"
            raise InvalidInput(
                f"{who} is a private, loopback or link-local address;"
                " set CMDB_WEBHOOKS_ALLOW_PRIVATE=true to allow it",
                where="url",
            )
    return url


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _types(names: Iterable[str]) -> list[EventType]:
    out: list[EventType] = []
    for name in names:
        try:
            out.append(EventType(name))
        except ValueError as exc:
            known = ", ".join(t.value for t in EventType)
            raise InvalidInput(f"no event type {name!r} (one of {known})", where="events") from exc
    return sorted(set(out), key=list(EventType).index)


def create_rule(
    store: GraphStore,
    caller: Caller,
    *,
    url: str,
    events: Iterable[str] = (),
    description: str = "",
    allow_private: bool = False,
    now: datetime | None = None,
    rule_id: str | None = None,
) -> WebhookRule:
    """A new rule, enabled, with a new secret (shown to the caller this once). Its id is
    made up unless the caller names one (the CLI's ``--id``) that no rule has yet."""
    unscoped_only(caller.principal, "subscribe to events")
    if rule_id is not None:
        if not _RULE_ID.match(rule_id):
            raise InvalidInput("an id of 1-64 letters, digits, '.', '_' or '-'", where="id")
        try:
            store.get_webhook_rule(rule_id)
        except NotFound:
            pass
        else:
            raise InvalidInput(f"a webhook rule {rule_id} exists already", where="id")
    rule = WebhookRule(
        id=rule_id or f"wh_{secrets.token_hex(8)}",
        url=check_url(url.strip(), allow_private=allow_private),
        secret=new_secret(),
        event_types=_types(events),
        description=description,
        created_by=caller.name,
        created_at=now or datetime.now(UTC),
        after_seq=store.last_event_seq(),
    )
    store.save_webhook_rule(rule)
    return rule


def list_rules(store: GraphStore, caller: Caller) -> list[WebhookRule]:
    unscoped_only(caller.principal, "read webhook rules")
    return store.list_webhook_rules()


def get_rule(store: GraphStore, caller: Caller, rule_id: str) -> WebhookRule:
    unscoped_only(caller.principal, "read webhook rules")
    return store.get_webhook_rule(rule_id)


def set_enabled(store: GraphStore, caller: Caller, rule_id: str, enabled: bool) -> WebhookRule:
    """Enable or disable a rule. A disabled rule is sent nothing: events that happen while
    it is disabled are not queued for it, and its pending deliveries wait."""
    unscoped_only(caller.principal, "change webhook rules")
    rule = store.get_webhook_rule(rule_id).model_copy(update={"enabled": enabled})
    store.save_webhook_rule(rule)
    return rule


def delete_rule(store: GraphStore, caller: Caller, rule_id: str) -> None:
    unscoped_only(caller.principal, "delete webhook rules")
    store.delete_webhook_rule(rule_id)


def deliveries(
    store: GraphStore, caller: Caller, rule_id: str, *, limit: int = 50
) -> list[Delivery]:
    """A rule's delivery log, newest event first: state, attempts and each attempt's
    outcome."""
    unscoped_only(caller.principal, "read webhook deliveries")
    store.get_webhook_rule(rule_id)  # NotFound for an unknown rule, not an empty log
    return store.list_deliveries(rule_id, limit=limit)


# Outbox seqs are 64-bit signed integers on both stores: a cursor past the largest refers
# to no event, and SQLite cannot even bind it (an OverflowError, a 500, before this check).
MAX_SEQ = 2**63 - 1


def events(
    store: GraphStore, caller: Caller, *, after_seq: int = 0, limit: int = 100
) -> list[Event]:
    unscoped_only(caller.principal, "read the event outbox")
    if not 0 <= after_seq <= MAX_SEQ:
        raise InvalidInput(f"after must be between 0 and {MAX_SEQ}", where="after")
    return store.read_events(after_seq=after_seq, limit=limit)


def find_event(store: GraphStore, ref: str) -> Event:
    """An event by its id, or by its seq in the outbox (digits)."""
    if ref.isdigit():
        seq = int(ref)
        found = store.read_events(after_seq=seq - 1, limit=1) if 0 < seq <= MAX_SEQ else []
        if not found or found[0].seq != seq:
            raise NotFound(f"no event with seq {seq}", where="event_id")
        return found[0]
    return store.get_event(ref)


@dataclass(frozen=True)
class Replayed:
    delivery: Delivery
    event: Event


def replay(
    store: GraphStore, caller: Caller, rule_id: str, event_id: str, *, now: datetime | None = None
) -> Replayed:
    """Send an event (its id, or its seq) to a rule again, now, whatever became of it
    before (delivered, failed, or never queued because the rule did not exist or want it
    then). The receiver sees the same ``webhook-id`` as before, so one that de-duplicates
    by it ignores the replay: replay is for receivers that lost or refused it."""
    unscoped_only(caller.principal, "replay webhook deliveries")
    rule = store.get_webhook_rule(rule_id)
    event = find_event(store, event_id)
    at = now or datetime.now(UTC)
    did = delivery_id(event.id, rule.id)
    try:
        old = store.get_delivery(did)
        delivery = old.model_copy(
            update={"state": DeliveryState.PENDING, "attempts": 0, "next_attempt_at": at}
        )
    except NotFound:
        delivery = Delivery(
            id=did,
            rule_id=rule.id,
            event_id=event.id,
            event_seq=event.seq,
            event_type=event.type,
            next_attempt_at=at,
            created_at=at,
        )
    store.save_delivery(delivery)
    return Replayed(delivery, event)


def replay_failed(
    store: GraphStore, caller: Caller, rule_id: str, *, now: datetime | None = None
) -> list[Delivery]:
    """Send every delivery of the rule whose attempts ran out again, now (each with its
    own webhook-id, as before)."""
    unscoped_only(caller.principal, "replay webhook deliveries")
    store.get_webhook_rule(rule_id)
    at = now or datetime.now(UTC)
    again: list[Delivery] = []
    for d in store.list_deliveries(rule_id, limit=10_000):
        if d.state is DeliveryState.FAILED:
            d = d.model_copy(
                update={"state": DeliveryState.PENDING, "attempts": 0, "next_attempt_at": at}
            )
            store.save_delivery(d)
            again.append(d)
    return again
