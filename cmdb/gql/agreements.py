# mypy: disable-error-code="untyped-decorator"
# (strawberry.field(...) with arguments is typed as returning Any without its mypy plugin)
"""Agreements that hold each other up, in GraphQL: a service's SLA against the OLAs and
supplier contracts of everything it rests on (cmdb/app/agreements.py), the types the
``Service.agreementCheck`` field, the health report and the CAB agenda share.

The types mirror the models field for field (kinds, targets and priorities stay the
strings REST shows); resolvers return the models themselves.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

import strawberry

from cmdb.app import agreements
from cmdb.domain.model import CI
from cmdb.gql.context import GqlContext


@strawberry.type(name="AgreementCI", description="A CI named by an agreement check.")
class AgreementCIType:
    id: str
    name: str
    ci_class: str


@strawberry.type(name="AgreementRef", description="An OLA or a supplier contract, by name.")
class AgreementRefType:
    kind: str = strawberry.field(description="ola or supplier_contract")
    name: str
    party: str = strawberry.field(description="the internal team or supplier that signs it")


@strawberry.type(
    name="AgreementGap", description="One SLA target the agreement below promises less of."
)
class AgreementGapType:
    target: str = strawberry.field(description="availability, response or resolution")
    priority: str | None = strawberry.field(description="P1..P4; null for availability")
    unit: str = strawberry.field(description="percent or minutes")
    sla_value: float
    agreement_value: float
    text: str = strawberry.field(description='e.g. "P1 resolution 480 min vs 240 min"')


@strawberry.type(
    name="DependencyPath",
    description="From the service (the first CI) to the CI the agreement covers; "
    "phrases[i] joins CI i to CI i+1 as read from the service.",
)
class DependencyPathType:
    ci_ids: list[str]
    names: list[str]
    phrases: list[str]
    text: str


@strawberry.type(name="AgreementCheck", description="One agreement under a service, checked.")
class AgreementCheckType:
    agreement: AgreementRefType
    ci: AgreementCIType = strawberry.field(description="the CI the agreement covers")
    path: DependencyPathType
    shielded_by: str | None = strawberry.field(
        description="the redundant cluster in front of it: its gaps are no finding"
    )
    gaps: list[AgreementGapType]
    holds: bool = strawberry.field(description="no gap, or shielded by redundancy")


@strawberry.type(
    name="ServiceAgreements",
    description="A service's SLA and every agreement it rests on (its own first, then by "
    "distance), each checked against it.",
)
class ServiceAgreementsType:
    service: AgreementCIType
    sla: str | None = strawberry.field(description="the SLA's name; null: nothing compared")
    agreements: list[AgreementCheckType]
    findings: int = strawberry.field(description="agreements that do not hold the SLA up")
    truncated: bool = strawberry.field(
        description="the walk hit its depth or node cap: agreements further down unseen"
    )


@strawberry.type(
    name="AgreementFinding",
    description="A weaker agreement below a stronger SLA, with the path and both figures.",
)
class AgreementFindingType:
    service: AgreementCIType
    sla: str
    agreement: AgreementRefType
    ci: AgreementCIType
    path: DependencyPathType
    gaps: list[AgreementGapType]


async def service_agreement_check(
    ctx: GqlContext, svc: CI, as_of: datetime | None
) -> ServiceAgreementsType:
    """The check for a service the caller already reads (the field sits on it)."""
    vis = await ctx.visibility()
    got = await ctx.call(agreements.service_agreements, ctx.store, vis, svc, as_of=as_of)
    return cast(ServiceAgreementsType, got)
