"""Who hears that a discovery run ended: the server's metrics, without the use cases
knowing about Prometheus (this layer imports no web or metrics library).

A listener is called in the thread that ran the push, after the run's outcome is known;
one that raises is logged and never changes the run's answer.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Literal

from cmdb.domain.records import RunStatus
from discovery.reconcile import RunReport

log = logging.getLogger("cmdb.app")

# applied: the run succeeded; suspicious: applied, its staleness sweep held back;
# dry_run: nothing written by request; refused: the input was refused before anything was
# written; failed: the run started and failed (recorded as failed), or broke unexpectedly.
RunOutcome = Literal["applied", "suspicious", "dry_run", "refused", "failed"]
RUN_OUTCOMES: tuple[RunOutcome, ...] = ("applied", "suspicious", "dry_run", "refused", "failed")
RunListener = Callable[[str, str, RunOutcome], None]  # (format, source, outcome)

_listeners: list[RunListener] = []
_lock = threading.Lock()


def on_run_finished(listener: RunListener) -> None:
    """Call ``listener(format, source, outcome)`` after every pushed run (once per listener,
    however often it is added)."""
    with _lock:
        if listener not in _listeners:
            _listeners.append(listener)


def run_finished(fmt: str, source: str, outcome: RunOutcome) -> None:
    for listener in tuple(_listeners):
        try:
            listener(fmt, source, outcome)
        except Exception:
            log.exception("a discovery run listener failed")


def outcome_of(report: RunReport) -> RunOutcome:
    status = report.run.status
    if status not in (RunStatus.SUCCEEDED, RunStatus.SUSPICIOUS):
        return "failed"
    if report.run.dry_run:
        return "dry_run"
    return "applied" if status is RunStatus.SUCCEEDED else "suspicious"


# -- webhook deliveries --------------------------------------------------------------------

# delivered: the receiver took it; retrying: this attempt failed and another is scheduled;
# failed: this attempt failed and it was the last one allowed.
DeliveryOutcome = Literal["delivered", "retrying", "failed"]
DELIVERY_OUTCOMES: tuple[DeliveryOutcome, ...] = ("delivered", "retrying", "failed")
DeliveryListener = Callable[[DeliveryOutcome, float], None]  # (outcome, seconds taken)

_delivery_listeners: list[DeliveryListener] = []


def on_delivery_attempt(listener: DeliveryListener) -> None:
    """Call ``listener(outcome, seconds)`` after every webhook delivery attempt made in this
    process (once per listener, however often it is added)."""
    with _lock:
        if listener not in _delivery_listeners:
            _delivery_listeners.append(listener)


def delivery_attempted(outcome: DeliveryOutcome, seconds: float) -> None:
    for listener in tuple(_delivery_listeners):
        try:
            listener(outcome, seconds)
        except Exception:
            log.exception("a webhook delivery listener failed")
