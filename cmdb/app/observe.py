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
