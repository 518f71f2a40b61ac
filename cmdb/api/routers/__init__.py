"""One router per resource; the app factory includes every router listed here."""

from __future__ import annotations

from fastapi import APIRouter

from cmdb.api.routers import (
    alerts,
    changes,
    cis,
    counts,
    export,
    graph,
    health,
    history,
    incidents,
    problems,
    proposals,
    relationships,
    reports,
    runs,
    services,
    status,
    webhooks,
)
from cmdb.api.routers import auth as auth_routes
from cmdb.api.routers import impact as impact_routes

ROUTERS: list[APIRouter] = [health.router]
ROUTERS += [r.router for r in (cis, graph, relationships, services, history, export, runs, counts)]
ROUTERS.append(impact_routes.router)
ROUTERS += [changes.router, incidents.router]
ROUTERS.append(problems.router)
ROUTERS.append(reports.router)
ROUTERS.append(status.router)
ROUTERS.append(auth_routes.router)
ROUTERS.append(webhooks.router)
ROUTERS.append(alerts.router)
ROUTERS.append(proposals.router)
