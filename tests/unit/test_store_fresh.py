"""cmdb.store.fresh: the CIs and relationships a batch creates, built without validating
them again, are exactly what full validation makes, and every refusal reads as before."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cmdb.store.planner as planner
from cmdb.domain.changeset import ChangeSet, CIRef, CIUpsert, RelUpsert
from cmdb.domain.classes import concrete_classes
from cmdb.domain.errors import CmdbError
from cmdb.domain.history import HistoryOp
from cmdb.domain.identifiers import Identifier, IdentifierKind
from cmdb.domain.model import CI, Redundancy, Relationship
from cmdb.domain.service import ServiceDetails
from cmdb.sample.load import build_changeset, read_estate

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class EmptyStore(planner.Loader):
    """A store holding nothing: every upsert creates."""

    def load_cis(self, ids: set[str]) -> dict[str, CI]:
        return {}

    def load_idents(self, keys: set[planner.IdentKey]) -> dict[planner.IdentKey, str]:
        return {}

    def load_heads(self, ids: set[str]) -> dict[str, planner.CIHead]:
        return {}

    def load_rels(self, ids: set[str]) -> dict[str, Relationship]:
        return {}


def _validated(monkeypatch: pytest.MonkeyPatch) -> None:
    """The planner as before: every new CI and relationship through full validation."""
    monkeypatch.setattr(planner, "new_ci", lambda values: None)
    monkeypatch.setattr(planner, "new_rel", lambda **v: Relationship.model_validate(v))


def _plan_or_error(cs: ChangeSet) -> planner.Plan | tuple[str, str, str | None]:
    try:
        return planner.plan(cs, EmptyStore(), NOW)
    except CmdbError as exc:
        return type(exc).__name__, str(exc), exc.where


def _same(fast: Any, slow: Any) -> None:
    if isinstance(slow, tuple):
        assert fast == slow
        return
    assert isinstance(fast, planner.Plan)
    assert fast.cis.keys() == slow.cis.keys()
    for ci_id, ci in slow.cis.items():
        assert fast.cis[ci_id] == ci
        assert fast.cis[ci_id].model_dump_json() == ci.model_dump_json()
    assert fast.rels == slow.rels
    assert [r.model_dump_json() for r in fast.rels.values()] == [
        r.model_dump_json() for r in slow.rels.values()
    ]
    assert fast.history == slow.history
    # A creation's row holds the new entity's field values, as the model gives them.
    made: dict[str, CI | Relationship] = {**fast.cis, **fast.rels}
    creations = [h for h in fast.history if h.op is HistoryOp.CREATE]
    assert creations
    for h in creations:
        values = made[h.entity_id].field_values()
        assert h.after == values
        assert orjson.dumps(h.after) == orjson.dumps(values)
    assert fast.new_idents == slow.new_idents
    assert fast.result == slow.result


def _fixed_ids(cs: ChangeSet) -> ChangeSet:
    """Ids given, so both plans name their CIs alike (a new CI otherwise gets a uuid)."""
    ups = [
        u if u.id else u.model_copy(update={"id": f"ci-{i}"}) for i, u in enumerate(cs.ci_upserts)
    ]
    return cs.model_copy(update={"ci_upserts": ups})


def test_the_sample_estate_plans_exactly_as_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    cs = _fixed_ids(build_changeset(read_estate(), actor="test"))
    # Services (details filled in), clusters (redundancy), agreements, relationships.
    assert any(u.ci_class == "Service" for u in cs.ci_upserts)
    assert any(u.redundancy is not None for u in cs.ci_upserts)
    assert cs.rel_upserts
    fast = planner.plan(cs, EmptyStore(), NOW)
    with monkeypatch.context() as m:
        _validated(m)
        slow = planner.plan(cs, EmptyStore(), NOW)
    _same(fast, slow)

    services = [c for c in fast.cis.values() if c.ci_class == "Service"]
    assert services and all(c.service is not None for c in services)


CLASSES = sorted(concrete_classes())
IDENTS = st.lists(
    st.builds(
        Identifier,
        kind=st.sampled_from([IdentifierKind.SERIAL, IdentifierKind.HOSTNAME, IdentifierKind.KEY]),
        value=st.sampled_from(["a", "B", "c.example", "a "]),
    ),
    max_size=4,
)


@st.composite
def upserts(draw: st.DrawFn) -> dict[str, Any]:
    up: dict[str, Any] = {
        # The classes with rules of their own often, every other one now and then.
        "class": draw(
            st.sampled_from(["Service", "Cluster", "Server"])
            | st.sampled_from([*CLASSES, "NoSuchClass"])
        ),
        "name": draw(st.sampled_from(["n", "web-01"])),
        "identifiers": draw(IDENTS),
    }
    for name, values in (
        ("description", [None, "", "d"]),
        ("status", [None, "live", "ordered"]),
        ("owner", [None, "ops"]),
        ("criticality", [None, "high"]),
        ("attributes", [{}, {"os": "linux", "n": 3, "x": None}, {"nested": {"a": [1, 2.5]}}]),
        ("redundancy", [None, Redundancy(min_up=1)]),
        ("service", [None, ServiceDetails()]),
        ("agreements", [None, []]),
    ):
        if draw(st.integers(0, 3)) == 0:
            # Mostly valid: a batch with one refused upsert is refused whole.
            up[name] = draw(st.sampled_from(values if draw(st.integers(0, 4)) == 0 else values[1:]))
    return up


@settings(max_examples=300, deadline=None)
@given(ups=st.lists(upserts(), min_size=1, max_size=4), rel=st.booleans())
def test_any_batch_of_creates_plans_or_fails_exactly_as_validated(
    ups: list[dict[str, Any]], rel: bool
) -> None:
    cs = ChangeSet(
        actor="t",
        source="s",
        ci_upserts=[CIUpsert.model_validate({**u, "id": f"c{i + 1}"}) for i, u in enumerate(ups)],
        rel_upserts=[RelUpsert(type="DEPENDS_ON", source=CIRef(id="c1"), target=CIRef(id="c2"))]
        if rel
        else [],
    )
    fast = _plan_or_error(cs)
    with pytest.MonkeyPatch.context() as m:
        _validated(m)
        slow = _plan_or_error(cs)
    _same(fast, slow)


@pytest.mark.parametrize(
    "up",
    [
        {"class": "Service", "name": "s"},  # details filled in
        {"class": "Cluster", "name": "c", "redundancy": Redundancy(min_up=2)},
        {"class": "Server", "name": "s", "redundancy": Redundancy(min_up=2)},  # refused
        {"class": "Server", "name": "s", "service": ServiceDetails()},  # refused
        {"class": "Server", "name": "s", "status": None},  # refused
        {"class": "Nope", "name": "s"},  # refused
        {
            "class": "Server",
            "name": "s",
            "identifiers": [
                Identifier(kind=IdentifierKind.SERIAL, value="b"),
                Identifier(kind=IdentifierKind.HOSTNAME, value="z"),
                Identifier(kind=IdentifierKind.SERIAL, value="b"),
                Identifier(kind=IdentifierKind.SERIAL, value="a"),
            ],
        },
    ],
)
def test_the_rules_the_model_adds(up: dict[str, Any]) -> None:
    cs = ChangeSet(actor="t", source="s", ci_upserts=[CIUpsert.model_validate({**up, "id": "c1"})])
    fast = _plan_or_error(cs)
    with pytest.MonkeyPatch.context() as m:
        _validated(m)
        slow = _plan_or_error(cs)
    _same(fast, slow)
