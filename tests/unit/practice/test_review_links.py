"""Which incidents a post-implementation review links: those whose failing CIs the change
impacted, or (for an incident naming only services) whose services it took down or
degraded; never through an incident's downstream services."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cmdb.domain.records import Incident
from cmdb.practice.review import linked_incidents

T = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


def inc(iid: str, *, cis: list[str] = [], services: list[str] = [], hours: float = 1) -> Incident:  # noqa: B006
    return Incident(
        id=iid, title=iid, ci_ids=cis, service_ids=services, opened_at=T + timedelta(hours=hours)
    )


def test_incidents_are_matched_on_what_failed_in_them() -> None:
    impacted = {"vm-1", "shop"}  # the change's CI, and a service it took down
    incidents = [
        inc("on-the-vm", cis=["vm-1"], services=["shop"]),
        inc("db-down-shop-down", cis=["db-9"], services=["shop"]),  # shop is downstream
        inc("shop-reported", services=["shop"]),  # names only the service
        inc("too-late", cis=["vm-1"], hours=30),
    ]
    got = linked_incidents(incidents, impacted, T, T + timedelta(hours=24))
    assert [i.id for i in got] == ["on-the-vm", "shop-reported"]
