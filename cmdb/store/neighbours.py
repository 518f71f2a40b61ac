"""A CI's neighbours from the relationships that touch it: what both stores share."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from cmdb.domain.model import CI, Relationship
from cmdb.store.contract import Direction, Neighbour

# (relationship, the CI at its other end, which way it points from the asked CI)
Picked = list[tuple[Relationship, str, Direction]]


def pick(
    ci_id: str, rels: Iterable[Relationship], direction: Direction, wanted: set[str] | None
) -> Picked:
    """The active relationships of ``ci_id`` that go the asked way, of the wanted types.

    A relationship from a CI to itself is picked once each way when both are asked.
    """
    picked: Picked = []
    for r in rels:
        if not r.active or (wanted is not None and r.type not in wanted):
            continue
        if r.source_id == ci_id and direction in (Direction.OUT, Direction.BOTH):
            picked.append((r, r.target_id, Direction.OUT))
        if r.target_id == ci_id and direction in (Direction.IN, Direction.BOTH):
            picked.append((r, r.source_id, Direction.IN))
    return picked


def assemble(picked: Picked, read: Callable[[Sequence[str]], dict[str, CI]]) -> list[Neighbour]:
    """Neighbours with their CIs (``read`` loads them), in a stable order for display."""
    cis = read([other for _, other, _ in picked])
    out = [Neighbour(relationship=r, ci=cis[o], direction=d) for r, o, d in picked if o in cis]
    out.sort(key=lambda n: (n.direction.value, n.relationship.type, n.ci.name, n.ci.id))
    return out


def assemble_many(
    ci_ids: Iterable[str],
    touching: Iterable[Relationship],
    read: Callable[[Sequence[str]], dict[str, CI]],
) -> dict[str, list[Neighbour]]:
    """Each CI's neighbours (both ways, every type) from the active relationships
    ``touching`` any of them, the CIs read once for all (``read``); a CI ``read`` does not
    find is absent."""
    wanted = list(dict.fromkeys(ci_ids))
    by_end: dict[str, dict[str, Relationship]] = {i: {} for i in wanted}
    for r in touching:
        for end in (r.source_id, r.target_id):
            if end in by_end:
                by_end[end][r.id] = r
    picked = {i: pick(i, by_end[i].values(), Direction.BOTH, None) for i in wanted}
    cis = read(list({*wanted, *(o for p in picked.values() for _, o, _ in p)}))
    return {i: assemble(picked[i], lambda _ids: cis) for i in wanted if i in cis}
