"""The impact map page at ``/ui`` and the static files under ``/static``.

The page is plain HTML and JavaScript (``static/impact-map.*``) over the REST API; its
graph library (Cytoscape) and GraphiQL's assets are copied from npm into ``static/vendor``
by ``make install``, so nothing is loaded from outside this server at run time.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent / "static"
PAGE = STATIC_DIR / "impact-map.html"
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


def mount_ui(app: FastAPI) -> None:
    mount_static(app)

    def impact_map() -> FileResponse:
        """The impact map page."""
        return FileResponse(
            PAGE,
            media_type="text/html",
            headers={"Content-Security-Policy": CSP, "Cache-Control": "no-cache"},
        )

    for path in ("/ui", "/ui/"):
        app.add_api_route(path, impact_map, methods=["GET"], include_in_schema=False)
