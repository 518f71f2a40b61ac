"""touched_below never clears a CI whose cone the edits change.

On a generated estate (bench/estate.py), random proposals of every kind of edit (a note
on a CI, a tier that regroups replicas, a quorum, a retired CI, relationships added and
retired, a standby pair) are applied as the proposal diff applies them, and every service
that touched_below clears must pass the proposal diff's own full comparison of its cone.
A note that changes nothing the engine reads clears even the services that use the CI.
"""

from __future__ import annotations

import random

import pytest

from bench.estate import CLUSTER, DB, INST, REL_TYPES, VM, Estate, generate
from cmdb.app.proposal_diff import _reads_same, _same_for_engine, apply_edits
from cmdb.domain.model import CI
from cmdb.domain.proposals import Edit, EditOp
from cmdb.store.contract import Subgraph
from impact.graph import build_impact_graph
from impact.graph_diff import touched_below
from tests.unit.impact.builders import rel


def _same_doc(a: CI, b: CI) -> bool:
    return _reads_same(a, b, None)


def _estate(est: Estate) -> Subgraph:
    cis = [
        CI.model_validate(
            {
                "id": f"c{i}",
                **est.upsert(i, est.identifier(i)).model_dump(by_alias=True, exclude_none=True),
            }
        )
        for i in range(est.n_cis)
    ]
    edges = [
        rel(f"c{s}", REL_TYPES[t], f"c{d}")
        for s, d, t in zip(est.src, est.dst, est.typ, strict=True)
    ]
    return Subgraph(roots=[], nodes={c.id: c for c in cis}, edges=edges, depth_reached=1)


def _proposal(est: Estate, rng: random.Random, count: int) -> list[Edit]:
    of = {code: [i for i, c in enumerate(est.cls) if c == code] for code in (VM, INST, DB, CLUSTER)}
    edges = list(zip(est.src, est.dst, est.typ, strict=True))
    out: list[Edit] = []
    for k in range(count):
        kind = rng.randrange(6)
        if kind == 0:  # a note: the document differs, nothing the engine reads
            ci = f"c{rng.choice(of[VM])}"
            out.append(Edit(op=EditOp.UPDATE_CI, ci_id=ci, fields={"attributes": {"n": k}}))
        elif kind == 1:  # a tier: its application's replica groups change
            ci = f"c{rng.choice(of[INST])}"
            out.append(Edit(op=EditOp.UPDATE_CI, ci_id=ci, fields={"attributes": {"tier": "x"}}))
        elif kind == 2:
            out.append(
                Edit(
                    op=EditOp.SET_REDUNDANCY,
                    ci_id=f"c{rng.choice(of[CLUSTER])}",
                    redundancy={"min_up": 1},
                )
            )
        elif kind == 3:
            out.append(Edit(op=EditOp.RETIRE_CI, ci_id=f"c{rng.choice(of[VM])}"))
        elif kind == 4:
            s, d, t = rng.choice(edges)
            out.append(
                Edit(op=EditOp.RETIRE_REL, type=REL_TYPES[t], source_id=f"c{s}", target_id=f"c{d}")
            )
        else:  # a standby pair for a database, one dependant moved onto it
            db = rng.choice(of[DB])
            users = [s for s, d, t in edges if d == db and REL_TYPES[t] == "DEPENDS_ON"]
            pair = CI.model_validate(
                {
                    "id": f"pair{k}",
                    "class": "Cluster",
                    "name": f"pair{k}",
                    "redundancy": {"min_up": 1},
                }
            )
            standby = CI.model_validate({"id": f"sb{k}", "class": "Database", "name": f"sb{k}"})
            out += [
                Edit(op=EditOp.ADD_CI, ci=pair),
                Edit(op=EditOp.ADD_CI, ci=standby),
                Edit(op=EditOp.ADD_REL, type="MEMBER_OF", source_id=f"c{db}", target_id=pair.id),
                Edit(op=EditOp.ADD_REL, type="MEMBER_OF", source_id=standby.id, target_id=pair.id),
            ]
            if users:
                u = f"c{users[0]}"
                out += [
                    Edit(op=EditOp.ADD_REL, type="DEPENDS_ON", source_id=u, target_id=pair.id),
                    Edit(op=EditOp.RETIRE_REL, type="DEPENDS_ON", source_id=u, target_id=f"c{db}"),
                ]
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_cleared_service_has_the_same_cone(seed: int) -> None:
    est = generate(3000, seed)
    sub = _estate(est)
    before = build_impact_graph(sub)
    edits = _proposal(est, random.Random(seed), 6)
    after = build_impact_graph(apply_edits(sub, edits, dict(sub.nodes)))
    moved = touched_below(before, after, _same_doc)
    cleared = 0
    for s in est.services:
        sid = f"c{s}"
        if after.index(sid) is None:
            continue
        if not moved[before.pos[sid]]:
            cleared += 1
            assert _same_for_engine(before, after, sid, None), sid
    # Some services are cleared without a comparison, and some are not.
    assert 0 < cleared < len(est.services)


def test_a_note_on_a_shared_ci_touches_nothing() -> None:
    est = generate(1000, 5)
    sub = _estate(est)
    before = build_impact_graph(sub)
    host = f"c{est.busiest_host()}"
    note = Edit(op=EditOp.UPDATE_CI, ci_id=host, fields={"attributes": {"note": "x"}})
    after = build_impact_graph(apply_edits(sub, [note], dict(sub.nodes)))
    assert not touched_below(before, after, _same_doc).any()
    gone = Edit(op=EditOp.UPDATE_CI, ci_id=host, fields={"status": "withdrawn"})
    after = build_impact_graph(apply_edits(sub, [gone], dict(sub.nodes)))
    assert touched_below(before, after, _same_doc)[before.pos[host]]


def test_nothing_changed_clears_everything_and_a_changed_cone_is_kept() -> None:
    est = generate(1000, 5)
    sub = _estate(est)
    before = build_impact_graph(sub)
    same = build_impact_graph(apply_edits(sub, [], dict(sub.nodes)))
    assert not touched_below(before, same, _same_doc).any()
    service = f"c{est.services[0]}"
    app = next(f"c{d}" for s, d in zip(est.src, est.dst, strict=True) if s == est.services[0])
    edit = Edit(op=EditOp.RETIRE_REL, type="CONTAINS", source_id=service, target_id=app)
    after = build_impact_graph(apply_edits(sub, [edit], dict(sub.nodes)))
    assert touched_below(before, after, _same_doc)[before.pos[service]]
    assert not _same_for_engine(before, after, service, None)
