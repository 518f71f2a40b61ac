"""The services' state now, for a caller: the service desk's landing page reads it.

Each service the caller sees, with the open incidents holding it and this month's SLA
budget left (:mod:`cmdb.practice.service_status` has the rules). A scoped caller sees the
services in its view, and the incidents it reads, shown with only the ids in view; a
service's budget counts every outage recorded against it (an incident naming a service
in view is one the caller reads).
"""

from __future__ import annotations

from datetime import datetime

from cmdb.app.changes import now as clock
from cmdb.app.incidents import shown
from cmdb.app.inputs import every_ci, instant
from cmdb.app.scope import Visibility, readable
from cmdb.practice.service_status import ServiceStatus, board
from cmdb.store.contract import CIFilter, GraphStore
from impact.sla import budget_since

SERVICES = CIFilter(ci_class="Service")


def services_status(
    store: GraphStore, vis: Visibility, *, at: datetime | None = None
) -> tuple[datetime, list[ServiceStatus]]:
    """The instant asked about (``at``, or now) and every visible service's status then,
    worst first."""
    when = instant(at, where="at") or clock()
    services = [s for s in every_ci(store, SERVICES) if vis.allows(s.id)]
    # The open ones, and this month's outages (the budget): not years of resolved ones.
    recent = store.list_incidents(resolved_since=budget_since(when))
    incidents = [i for i in recent if readable(vis, i)]
    rows = board(services, incidents, when)
    if not vis.unrestricted:
        rows = [
            ServiceStatus(
                service=r.service,
                state=r.state,
                open_incidents=[shown(store, vis, i) for i in r.open_incidents],
                budget=r.budget,
            )
            for r in rows
        ]
    return when, rows
