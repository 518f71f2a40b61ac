"""Alerts in: an Alertmanager notification correlated into incidents (the practice is
:mod:`cmdb.practice.alerts`), and the CIs a label set names (``cmdb alerts map``).

One call at a time per process (a cheap first line); across processes the practice's
guarded write makes correlation atomic (``cmdb.practice.alerts.receive``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from cmdb.app.alert_inputs import AlertmanagerAlert, AlertmanagerPayload
from cmdb.app.caller import Caller, stamped
from cmdb.app.changes import now, policy_of
from cmdb.app.scope import Visibility
from cmdb.config import Settings
from cmdb.domain.errors import Forbidden
from cmdb.domain.records import Incident
from cmdb.practice import alerts as practice
from cmdb.practice.alert_rules import AlertRules, Match, load_rules, map_labels
from cmdb.store.contract import GraphStore

_ONE_AT_A_TIME = threading.Lock()
log = logging.getLogger("cmdb.alerts")


@dataclass(frozen=True)
class Outcome:
    receiver: str
    alerts: list[practice.Received]
    incidents: list[Incident]

    @property
    def unmapped(self) -> list[practice.Received]:
        return [a for a in self.alerts if a.action == "unmapped"]


def rules_of(settings: Settings) -> AlertRules:
    return load_rules(settings.alert_rules_file)


def _unscoped(vis: Visibility) -> None:
    # Alerts may open incidents on any CI the labels name: a token limited to some
    # services could not be told what it may not see, nor be trusted with the rest.
    if not vis.unrestricted:
        raise Forbidden("alerts need a token not limited to services")


def _alert(a: AlertmanagerAlert) -> practice.Alert:
    ends = a.ends_at
    # Alertmanager sends 0001-01-01T00:00:00Z for "no end yet".
    if ends is not None and (ends.tzinfo is None or ends.year < 1970 or ends < a.starts_at):
        ends = None
    return practice.Alert(
        fingerprint=a.fingerprint,
        status=a.status,
        labels=dict(a.labels),
        starts_at=a.starts_at.astimezone(UTC),
        ends_at=ends.astimezone(UTC) if ends is not None else None,
        summary=a.annotations.get("summary", ""),
    )


def receive(
    store: GraphStore,
    caller: Caller,
    vis: Visibility,
    payload: AlertmanagerPayload,
    settings: Settings,
    *,
    at: datetime | None = None,
) -> Outcome:
    """Correlate the notification's alerts into incidents (opened, joined, resolved)."""
    _unscoped(vis)
    rules, policy = rules_of(settings), policy_of(settings)
    if caller.request_id is not None:
        store = stamped(store, caller.request_id)
    with _ONE_AT_A_TIME:
        got, incidents = practice.receive(
            store,
            [_alert(a) for a in payload.alerts],
            rules=rules,
            policy=policy,
            actor=caller.name,
            now=at or now(),
        )
    out = Outcome(payload.receiver, got, incidents)
    by_fp = {a.fingerprint: a for a in payload.alerts}
    for a in out.unmapped:
        # Kept in the answer and here, for whoever tunes the mapping rules.
        log.warning(
            "alert %s (%s) names no CI: labels %s",
            a.name,
            a.fingerprint,
            dict(by_fp[a.fingerprint].labels),
        )
    return out


def mapping(
    store: GraphStore, vis: Visibility, labels: Mapping[str, str], settings: Settings
) -> list[Match]:
    """The CIs ``labels`` name under the configured rules."""
    _unscoped(vis)
    return map_labels(store, rules_of(settings), dict(labels))
