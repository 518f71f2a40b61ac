"""Liveness and readiness, open to anyone (load balancers and probes carry no token).

- ``/health`` and ``/health/live``: the process answers (no store call: a slow store must
  not get a live process restarted).
- ``/health/ready``: the store answers a cheap read within ``CMDB_READY_TIMEOUT_S``; else
  503 with the reason, so a load balancer stops sending traffic here.
- ``/ready``: the first readiness route, kept as it was (a store error is the usual error
  answer).
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
from anyio import to_thread
from fastapi import APIRouter, Request
from pydantic import BaseModel

from cmdb.web.deps import SettingsDep, Store
from cmdb.web.errors import request_id
from cmdb.web.responses import OrjsonResponse

log = logging.getLogger("cmdb.api")

router = APIRouter(tags=["health"])


class HealthOut(BaseModel):
    status: str


class ReadyOut(BaseModel):
    status: str
    store: str


class NotReadyOut(BaseModel):
    status: str
    store: str
    reason: str
    request_id: str | None = None


@router.get("/health", operation_id="health", response_model=HealthOut)
def health() -> HealthOut:
    """The process answers."""
    return HealthOut(status="ok")


@router.get("/health/live", operation_id="healthLive", response_model=HealthOut)
async def live() -> HealthOut:
    """The process answers (liveness: restart it if this fails)."""
    return HealthOut(status="ok")


@router.get(
    "/health/ready",
    operation_id="healthReady",
    response_model=ReadyOut,
    responses={503: {"model": NotReadyOut, "description": "the store did not answer"}},
)
async def health_ready(request: Request, store: Store, settings: SettingsDep) -> Any:
    """The store answers a cheap read within the readiness timeout (readiness: send
    traffic here only while this is 200)."""
    timeout = settings.ready_timeout_s
    limiter = _limiter(request)
    try:
        with anyio.fail_after(timeout):
            await to_thread.run_sync(store.is_empty, abandon_on_cancel=True, limiter=limiter)
    except TimeoutError:
        return _not_ready(request, store.kind, f"the store did not answer within {timeout:g} s")
    except Exception as exc:
        # The reason names the error's kind only: its text may hold an address or a URI.
        log.warning("readiness: the store failed: %s", exc)
        return _not_ready(request, store.kind, f"the store failed ({type(exc).__name__})")
    return ReadyOut(status="ready", store=store.kind)


@router.get("/ready", operation_id="ready", response_model=ReadyOut)
def ready(store: Store) -> ReadyOut:
    """The store answers a read (a store that cannot be reached gives 503)."""
    store.is_empty()
    return ReadyOut(status="ready", store=store.kind)


def _limiter(request: Request) -> anyio.CapacityLimiter:
    """One readiness read at a time, on a thread of its own: it neither waits behind the
    requests' store threads nor adds threads while a hung read holds one (later probes
    wait and time out: not ready)."""
    limiter = getattr(request.app.state, "ready_limiter", None)
    if limiter is None:
        limiter = request.app.state.ready_limiter = anyio.CapacityLimiter(1)
    return limiter


def _not_ready(request: Request, kind: str, reason: str) -> OrjsonResponse:
    body = NotReadyOut(
        status="unavailable", store=kind, reason=reason, request_id=request_id(request)
    )
    return OrjsonResponse(body.model_dump(), status_code=503)
