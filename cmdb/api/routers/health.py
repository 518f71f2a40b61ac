"""Liveness and readiness, open to anyone (load balancers carry no token)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from cmdb.web.deps import Store

router = APIRouter(tags=["health"])


class HealthOut(BaseModel):
    status: str


class ReadyOut(BaseModel):
    status: str
    store: str


@router.get("/health", operation_id="health", response_model=HealthOut)
def health() -> HealthOut:
    """The process answers."""
    return HealthOut(status="ok")


@router.get("/ready", operation_id="ready", response_model=ReadyOut)
def ready(store: Store) -> ReadyOut:
    """The store answers a read (a store that cannot be reached gives 503)."""
    store.is_empty()
    return ReadyOut(status="ready", store=store.kind)
