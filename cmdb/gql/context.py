"""What every resolver gets: the store, the caller, what it may see, and the loaders.

Store calls are synchronous; :meth:`GqlContext.call` is the one place they leave the
event loop (a worker thread), so no resolver blocks it (house rule 7). The visibility of
a service-scoped caller costs store calls, so it is computed on first use, never when
the request arrives: a query the limits reject has touched nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from strawberry.fastapi import BaseContext

from cmdb.app.scope import Visibility
from cmdb.auth.roles import Permission, grants
from cmdb.auth.tokens import Principal
from cmdb.config import Settings
from cmdb.domain.errors import Forbidden, NotFound
from cmdb.domain.model import CI
from cmdb.store.contract import GraphStore

T = TypeVar("T")


class GqlContext(BaseContext):
    def __init__(
        self,
        *,
        store: GraphStore,
        settings: Settings,
        principal: Principal | None,
        request_id: str | None,
    ) -> None:
        super().__init__()
        self.store = store
        self.settings = settings
        self._principal = principal
        self.request_id = request_id
        self._visibility: Visibility | None = None
        self._vis_lock = asyncio.Lock()
        from cmdb.gql.loaders import Loaders  # the loaders call back into this context

        self.loaders = Loaders(self)

    @property
    def principal(self) -> Principal:
        # Only the GraphiQL page is served without a principal, and it executes nothing.
        if self._principal is None:
            raise Forbidden("a bearer token is required")
        return self._principal

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one synchronous store call (or a few, as one unit) in a worker thread: the
        REST routes' pool, so both share one bound on the threads holding the GIL."""
        return await run_in_threadpool(fn, *args, **kwargs)

    async def visibility(self) -> Visibility:
        if self._visibility is None:
            async with self._vis_lock:
                if self._visibility is None:
                    principal = self.principal
                    if principal.scoped:
                        self._visibility = await self.call(
                            Visibility.for_principal, self.store, principal
                        )
                    else:
                        self._visibility = Visibility(None)
        return self._visibility

    def require(self, permission: Permission) -> Principal:
        principal = self.principal
        if not grants(principal.role, permission):
            raise Forbidden(f"the {principal.role.value} role may not {permission.value}")
        return principal

    async def visible_ci(self, ci_id: str, *, as_of: datetime | None = None) -> CI:
        """The CI (as of), or NotFound: an out-of-scope CI is answered like a missing one."""
        vis = await self.visibility()
        vis.check(ci_id)
        return await self.call(self.store.get_ci, ci_id, as_of=as_of)

    async def ensure_visible(self, ci_id: str, *, where: str = "ci") -> None:
        vis = await self.visibility()
        if not vis.allows(ci_id):
            raise NotFound(f"no CI {ci_id!r}", where=where)
