"""Clashes between two changes whose windows overlap. Pure, given what the store and the
impact engine found:

* ``same_ci``: both change a CI;
* ``parent_child``: a CI of one contains, hosts or runs (directly or a few levels down)
  a CI of the other: ``related`` maps each CI to the CIs above and below it;
* ``joint_quorum``: a redundancy group (a cluster needing k of n members) goes down when
  both changes run together, and neither alone takes it down;
* ``joint_service``: a service is worse with both together than with either alone;
* ``same_service``: each change alone interrupts (degrades or takes down) the same service.

The joint kinds compare the impact engine's answer for both changes' CIs failed together
with its answers for each change alone: the clashes no list of CIs can show.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from cmdb.domain.records import Change
from cmdb.practice.windows import overlap
from impact.report import ImpactReport

CollisionKind = Literal["same_ci", "parent_child", "joint_quorum", "joint_service", "same_service"]
_ORDER = {"up": 0, "at_risk": 1, "degraded": 2, "down": 3}


class Collision(BaseModel):
    a: str
    b: str
    kind: CollisionKind
    start: datetime | None  # the overlap of the two windows (None: not scheduled yet)
    end: datetime | None
    subjects: list[str]  # CI or service names
    detail: str


def windows_overlap(a: Change, b: Change) -> tuple[datetime, datetime] | None:
    if None in (a.planned_start, a.planned_end, b.planned_start, b.planned_end):
        return None
    assert a.planned_start and a.planned_end and b.planned_start and b.planned_end
    return overlap((a.planned_start, a.planned_end), (b.planned_start, b.planned_end))


def structural(
    a: Change,
    b: Change,
    related: Mapping[str, Set[str]],
    names: Mapping[str, str],
    when: tuple[datetime, datetime] | None,
) -> list[Collision]:
    start, end = when if when else (None, None)
    out: list[Collision] = []
    same = sorted(set(a.ci_ids) & set(b.ci_ids))
    if same:
        shown = [names.get(c, c) for c in same]
        out.append(
            Collision(
                a=a.id,
                b=b.id,
                kind="same_ci",
                start=start,
                end=end,
                subjects=shown,
                detail=f"both change {', '.join(shown)}",
            )
        )
    pairs = sorted(
        (x, y)
        for x in a.ci_ids
        for y in b.ci_ids
        if x != y and (y in related.get(x, ()) or x in related.get(y, ()))
    )
    if pairs:
        text = [f"{names.get(x, x)} / {names.get(y, y)}" for x, y in pairs]
        out.append(
            Collision(
                a=a.id,
                b=b.id,
                kind="parent_child",
                start=start,
                end=end,
                subjects=sorted({names.get(c, c) for p in pairs for c in p}),
                detail="one contains, hosts or runs the other: " + "; ".join(text),
            )
        )
    return out


def _sev(report: ImpactReport) -> dict[str, str]:
    return {c.id: c.severity for c in report.cis}


def joint(
    a: Change,
    b: Change,
    alone_a: ImpactReport,
    alone_b: ImpactReport,
    together: ImpactReport,
    redundancy_groups: Set[str],
    when: tuple[datetime, datetime] | None,
) -> list[Collision]:
    start, end = when if when else (None, None)
    sa, sb, st = _sev(alone_a), _sev(alone_b), _sev(together)
    names = {c.id: c.name for c in together.cis}

    def worse(ci_id: str) -> bool:
        both = _ORDER[st.get(ci_id, "up")]
        return both > max(_ORDER[sa.get(ci_id, "up")], _ORDER[sb.get(ci_id, "up")])

    out: list[Collision] = []
    quorum = sorted(names[c] for c in st if c in redundancy_groups and st[c] == "down" and worse(c))
    if quorum:
        out.append(
            Collision(
                a=a.id,
                b=b.id,
                kind="joint_quorum",
                start=start,
                end=end,
                subjects=quorum,
                detail=f"together they take {', '.join(quorum)} below quorum; neither does alone",
            )
        )
    services = [s for s in together.services if worse(s.id)]
    if services:
        out.append(
            Collision(
                a=a.id,
                b=b.id,
                kind="joint_service",
                start=start,
                end=end,
                subjects=[s.name for s in services],
                detail="together: "
                + ", ".join(
                    f"{s.name} {s.severity} (alone: {sa.get(s.id, 'up')} / {sb.get(s.id, 'up')})"
                    for s in services
                ),
            )
        )
    hit_a = {s.id: s.name for s in alone_a.services if _ORDER[s.severity] >= 2}
    hit_b = {s.id for s in alone_b.services if _ORDER[s.severity] >= 2}
    shared = sorted(hit_a[s] for s in set(hit_a) & hit_b)
    if shared:
        out.append(
            Collision(
                a=a.id,
                b=b.id,
                kind="same_service",
                start=start,
                end=end,
                subjects=shared,
                detail=f"each interrupts {', '.join(shared)}",
            )
        )
    return out
