"""The sites a change touches: what "many sites" (a higher board's business) counts.

A site is a top-level Location: a hall inside a data centre is the data centre's site. A
CI's location is its LOCATED_IN Location, else the Location its ``location`` text names;
a CI with neither (an application, an instance) is where what it runs on or is hosted on
is, a few steps down. A location text that names no Location CI is its own site, so a
store without Location CIs still counts distinct places.
"""

from __future__ import annotations

from collections.abc import Iterable

from cmdb.domain.model import CI
from cmdb.store.contract import CIFilter, Direction, GraphStore

HOSTING = ("RUNS_ON", "HOSTED_ON")
MAX_HOPS = 4  # service -> application -> instance -> cluster -> VM: more is a loop
MAX_VISITS = 500


def sites_of(store: GraphStore, cis: Iterable[CI]) -> list[str]:
    """The distinct sites of ``cis``, by name (unplaced CIs add none)."""
    found: set[str] = set()
    for ci in cis:
        found |= _placed(store, ci)
    return sorted(found)


def _placed(store: GraphStore, ci: CI) -> set[str]:
    """Every site ``ci`` is at: its own, or, for a CI with none, the sites of what it runs
    or is hosted on, of a cluster's members, of what an application or service contains."""
    found: set[str] = set()
    todo, seen = [ci], {ci.id}
    for _ in range(MAX_HOPS + 1):
        nxt: list[CI] = []
        for c in todo:
            site = _site_of(store, c)
            if site is not None:
                found.add(site)
                continue
            for n in _beneath(store, c):
                if n.id not in seen and len(seen) < MAX_VISITS:
                    seen.add(n.id)
                    nxt.append(n)
        if not nxt:
            break
        todo = nxt
    return found


def _beneath(store: GraphStore, ci: CI) -> list[CI]:
    out = [n.ci for n in store.neighbours(ci.id, direction=Direction.OUT, types=HOSTING)]
    out += [n.ci for n in store.neighbours(ci.id, direction=Direction.IN, types=("MEMBER_OF",))]
    out += [n.ci for n in store.neighbours(ci.id, direction=Direction.OUT, types=("CONTAINS",))]
    return out


def _site_of(store: GraphStore, ci: CI) -> str | None:
    if ci.ci_class == "Location":
        return _top(store, ci).name
    located = store.neighbours(ci.id, direction=Direction.OUT, types=("LOCATED_IN",))
    if located:
        return _top(store, located[0].ci).name
    if not ci.location:
        return None
    named = store.list_cis(CIFilter(ci_class="Location", name=ci.location), limit=2).items
    return _top(store, named[0]).name if len(named) == 1 else ci.location


def _top(store: GraphStore, loc: CI) -> CI:
    """The outermost Location containing ``loc`` (CONTAINS points from the outer one)."""
    seen = {loc.id}
    while True:
        outer = [
            n.ci
            for n in store.neighbours(loc.id, direction=Direction.IN, types=("CONTAINS",))
            if n.ci.ci_class == "Location" and n.ci.id not in seen
        ]
        if not outer:
            return loc
        loc = outer[0]
        seen.add(loc.id)
