"""Problems and known errors on the sample estate, on both stores: their life, the services
they affect, and similar past problems with the evidence for each."""

from __future__ import annotations

import pytest

from cmdb.domain.errors import InvalidInput, NotFound
from cmdb.domain.history import EntityKind
from cmdb.domain.records import Incident, ProblemState
from cmdb.practice.incidents import save as save_incidents
from cmdb.practice.problems import (
    known_errors,
    link,
    log_problem,
    problems_of_incident,
    transition_problem,
    update_problem,
)
from cmdb.practice.similar import similar_problems
from cmdb.store.contract import GraphStore
from cmdb.store.refs import resolve_ci
from tests.fakes import FakeClock

BOOKING, IDENTITY = "Online Ferry Booking", "Identity & Sign-in"


def ci(store: GraphStore, name: str) -> str:
    return resolve_ci(store, name).id


def _log(store: GraphStore, clock: FakeClock, pid: str, name: str, **kw: object) -> None:
    log_problem(
        store,
        problem_id=pid,
        cis=[resolve_ci(store, name)],
        actor="pm",
        now=clock(),
        **kw,  # type: ignore[arg-type]
    )


def test_a_problem_lives_through_its_states(
    sample_store: GraphStore, sample_clock: FakeClock
) -> None:
    store, clock = sample_store, sample_clock
    made = log_problem(
        store,
        problem_id="PRB-1",
        title="bookings-db runs out of connections",
        cis=[resolve_ci(store, "bookings-db")],
        symptoms=["FATAL: too many connections"],
        actor="pm",
        now=clock(),
    )
    assert made.state is ProblemState.LOGGED and not made.known
    # Potentially affected: what a failure of the database takes down.
    assert ci(store, BOOKING) in made.service_ids
    assert ci(store, IDENTITY) not in made.service_ids
    with pytest.raises(InvalidInput, match="allowed next: investigating, known_error, closed"):
        transition_problem(store, "PRB-1", ProblemState.RESOLVED, actor="pm", now=clock())
    with pytest.raises(InvalidInput, match="root cause or a workaround"):
        transition_problem(store, "PRB-1", ProblemState.KNOWN_ERROR, actor="pm", now=clock())
    assert store.get_problem("PRB-1") == made  # refused steps wrote nothing
    transition_problem(store, "PRB-1", ProblemState.INVESTIGATING, actor="pm", now=clock())
    # Recording a workaround makes it a known error in the same write.
    at = clock.advance(hours=2)
    known = update_problem(store, "PRB-1", {"workaround": "restart pgbouncer"}, actor="pm", now=at)
    assert known.state is ProblemState.KNOWN_ERROR and known.known_error_at == at
    assert [p.id for p in known_errors(store, ci_id=ci(store, "bookings-db"))] == ["PRB-1"]
    done = transition_problem(store, "PRB-1", ProblemState.RESOLVED, actor="pm", now=clock())
    assert done.resolved_at == clock() and known_errors(store) == []
    steps = [h for h in store.history("PRB-1") if h.field == "state"]
    assert [h.after for h in steps] == ["investigating", "known_error", "resolved"]
    assert all(h.entity_kind is EntityKind.PROBLEM for h in store.history("PRB-1"))


def test_linking_incidents_adds_their_services(
    sample_store: GraphStore, sample_clock: FakeClock
) -> None:
    store, clock = sample_store, sample_clock
    _log(store, clock, "PRB-2", "bookings-db", title="slow queries")
    inc = Incident(
        id="INC-7", title="sign-in fails", service_ids=[ci(store, IDENTITY)], opened_at=clock()
    )
    save_incidents(store, [inc], actor="desk")
    before = store.get_problem("PRB-2")
    with pytest.raises(NotFound, match="INC-404"):
        link(store, "PRB-2", incident_ids=["INC-404"], actor="pm")
    assert store.get_problem("PRB-2") == before
    linked = link(store, "PRB-2", incident_ids=["INC-7"], actor="pm")
    assert linked.incident_ids == ["INC-7"]
    assert ci(store, IDENTITY) in linked.service_ids  # currently affected, through INC-7
    assert [p.id for p in problems_of_incident(store, "INC-7")] == ["PRB-2"]
    assert [p.id for p in store.list_problems(ci_id=ci(store, IDENTITY))] == ["PRB-2"]


def test_a_known_root_cause_at_logging_starts_a_known_error(
    sample_store: GraphStore, sample_clock: FakeClock
) -> None:
    store, clock = sample_store, sample_clock
    _log(store, clock, "PRB-3", "core-sw-01", title="switch flaps", root_cause="bad optic")
    got = store.get_problem("PRB-3")
    assert got.state is ProblemState.KNOWN_ERROR and got.known_error_at == clock()
    with pytest.raises(InvalidInput, match="exists already"):
        _log(store, clock, "PRB-3", "core-sw-01", title="again")
    with pytest.raises(InvalidInput, match="not amended by hand: state"):
        update_problem(store, "PRB-3", {"state": "closed"}, actor="pm", now=clock())


def test_similar_past_problems_with_their_evidence(
    sample_store: GraphStore, sample_clock: FakeClock
) -> None:
    store, clock = sample_store, sample_clock
    _log(
        store,
        clock,
        "PRB-10",
        "bookings-db",
        title="connection pool exhausted",
        symptoms=["FATAL: too many connections"],
        workaround="restart pgbouncer",
    )
    _log(store, clock, "PRB-11", "booking-engine-1", title="memory leak in the engine")
    _log(store, clock, "PRB-12", "core-sw-01", title="switch port flaps")

    # identity-db is another PostgreSQL 16.4: PRB-10 by kind and by words.
    found = similar_problems(store, ci(store, "identity-db"), text="too many connections")
    top = found[0]
    assert top.problem.id == "PRB-10" and top.known_error
    assert "bookings-db at fault: also Database 16.4" in top.reasons
    assert "shares words: connections, many, too" in top.reasons
    assert "PRB-11" not in [s.problem.id for s in found]

    # The engine's own problem first; its twin instance by version.
    own = similar_problems(store, ci(store, "booking-engine-1"))
    assert own[0].problem.id == "PRB-11" and own[0].reasons[0] == "booking-engine-1 was at fault"
    twin = similar_problems(store, ci(store, "booking-engine-2"))
    prb11 = next(s for s in twin if s.problem.id == "PRB-11")
    assert "booking-engine-1 at fault: also ApplicationInstance 7.3.1" in prb11.reasons
    # Scores are sums of the evidence listed: the same CI outranks a twin.
    assert own[0].score > prb11.score


def test_similar_counts_graph_nearness_with_the_path(
    sample_store: GraphStore, sample_clock: FakeClock
) -> None:
    store, clock = sample_store, sample_clock
    _log(store, clock, "PRB-20", "vm-db-01", title="hypervisor stalls")
    db = resolve_ci(store, "bookings-db")
    host = resolve_ci(store, "vm-db-01")
    near = [n for n in store.neighbours(db.id) if n.ci.id == host.id]
    assert near, "the sample estate hosts bookings-db on vm-db-01, one step away"
    found = {s.problem.id: s for s in similar_problems(store, db.id)}
    reason = found["PRB-20"].reasons[0]
    assert reason.startswith("vm-db-01 at fault is near: ")
    assert near[0].relationship.type in reason
