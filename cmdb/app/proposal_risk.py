"""What an RFC's what-if proposal means for its risk (issue 17): the services whose
single points of failure it adds, from its impact diff, for the policy's rule "a proposal
that introduces a SPOF to a gold service needs the CAB" (cmdb/practice/policy.yaml)."""

from __future__ import annotations

from cmdb.app.proposal_diff import evaluate
from cmdb.domain.errors import NotFound
from cmdb.domain.proposals import ProposalState
from cmdb.practice.risk import ProposalSpof
from cmdb.store.contract import GraphStore


def proposal_spofs(store: GraphStore, change_id: str) -> list[ProposalSpof]:
    """Each service the change's open proposal (its latest version) gives single points of
    failure it does not have now; none without an open proposal with edits (a merged one
    is the live graph, which the change's own impact already reads)."""
    return judged(store, change_id)[1]


def judged(store: GraphStore, change_id: str) -> tuple[int | None, list[ProposalSpof]]:
    """The open proposal's version judged (None: no open proposal with edits) and the
    services it gives new SPOFs, evaluated against the live graph now: what an
    assessment, and an authorisation judging again, record."""
    try:
        p = store.get_proposal(change_id)
    except NotFound:
        return None, []
    if p.state is not ProposalState.OPEN or not p.edits:
        return None, []
    got = evaluate(store, p)
    return p.version, [
        ProposalSpof(
            proposal_version=p.version,
            service_id=s.id,
            service=s.name,
            criticality=s.criticality,
            sla_target_percent=s.sla_target_percent,
            spofs=sorted(x.name for x in s.spofs_introduced),
        )
        for s in got.services
        if s.spofs_introduced
    ]
