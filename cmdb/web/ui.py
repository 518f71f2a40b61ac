"""The web pages under ``/ui`` and the static files under ``/static``.

The pages are plain HTML and JavaScript (``static/*.html``, ``*.js``) over the REST API:
``/ui`` the services now (the landing page), ``/ui/ci/{ref}`` one CI, ``/ui/changes/{id}``
one RFC and its assessment, ``/ui/map`` the impact map. Their libraries (Cytoscape,
GraphiQL's, Swagger UI's and ReDoc's assets) are built from npm into ``static/vendor`` and
ship with the package, so nothing is loaded from outside this server at run time.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent / "static"
# No inline script, and the page talks only to this server (Cytoscape sets inline styles).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)


def mount_static(app: FastAPI) -> None:
    """``/static`` once, whoever asks first (the GraphQL explorer needs it too)."""
    if not any(isinstance(r, Mount) and r.path == "/static" for r in app.routes):
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")


# path -> the page it serves (the page's script reads what it needs from the URL).
PAGES: dict[str, str] = {
    "/ui": "home.html",
    "/ui/": "home.html",
    "/ui/map": "impact-map.html",
    "/ui/ci/{ref:path}": "ci.html",
    "/ui/changes/{change_id}": "change.html",
}


def _page(name: str) -> Callable[[], FileResponse]:
    path = STATIC_DIR / name

    def page() -> FileResponse:
        return FileResponse(
            path,
            media_type="text/html",
            headers={"Content-Security-Policy": CSP, "Cache-Control": "no-cache"},
        )

    return page


def mount_ui(app: FastAPI) -> None:
    mount_static(app)
    for path, name in PAGES.items():
        app.add_api_route(path, _page(name), methods=["GET"], include_in_schema=False)
    app.add_api_route(
        "/", lambda: RedirectResponse("/ui"), methods=["GET"], include_in_schema=False
    )
