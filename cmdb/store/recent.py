"""The incidents a question about a recent period reads, out of years of them.

A service desk records thousands of incidents a month, and most questions look at a short
period: an SLA's budget is the calendar month holding an instant (``impact.sla``), and an
incident that was resolved before that month began spends nothing of it. Each incident
matters until its ``live_until``: its resolution, or no end while it is open or has no
resolution time. ``list_incidents(resolved_since=T)`` leaves out, unread, every incident
whose ``live_until`` is before T; both stores keep ``live_until`` under an index (the
embedded store as an expression over the document, Neo4j as a property), so such a read
grows with the recent incidents, not with all of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from cmdb.domain.instant import LATEST
from cmdb.domain.records import Incident, IncidentState
from cmdb.store.timefmt import aware

# "No end yet": later than any instant a record may hold (cmdb.domain.instant).
OPEN_ENDED = LATEST


def live_until(incident: Incident) -> datetime:
    """Until when ``incident`` can matter to a question about a period."""
    if incident.state is IncidentState.OPEN or incident.resolved_at is None:
        return OPEN_ENDED
    return aware(incident.resolved_at)


def still_live(incidents: Iterable[Incident], since: datetime | None) -> list[Incident]:
    """``incidents`` less those whose ``live_until`` is before ``since`` (None: all)."""
    if since is None:
        return list(incidents)
    at = aware(since)
    return [i for i in incidents if live_until(i) >= at]
