"""One router per resource; the app factory includes every router listed here."""

from __future__ import annotations

from fastapi import APIRouter

from cmdb.api.routers import health

ROUTERS: list[APIRouter] = [health.router]
