"""The REST API's documentation pages, ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), on
the browser assets this package ships (``static/vendor``, copied from npm by ``make
install``): FastAPI's own pages load them from a CDN, which leaves a blank page on a
machine without the internet and leaks every visit to a third party.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse

from cmdb.web.ui import mount_static

VENDOR = "/static/vendor"
SWAGGER_JS = f"{VENDOR}/swagger-ui-bundle.js"
SWAGGER_CSS = f"{VENDOR}/swagger-ui.css"
REDOC_JS = f"{VENDOR}/redoc.standalone.js"
# No favicon request at all (FastAPI's default is an image on its own site).
FAVICON = "data:,"
# Swagger UI asks an outside validator about the spec and shows its badge unless told not to.
SWAGGER_PARAMETERS = {"validatorUrl": None, "persistAuthorization": True}


def mount_docs(app: FastAPI, openapi_url: str, *, title: str) -> None:
    """``/docs`` and ``/redoc`` for ``openapi_url`` (the app is built with ``docs_url=None,
    redoc_url=None`` so FastAPI's CDN pages are not there too)."""
    mount_static(app)

    def swagger() -> HTMLResponse:
        """Swagger UI over the OpenAPI document."""
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{title} - Swagger UI",
            swagger_js_url=SWAGGER_JS,
            swagger_css_url=SWAGGER_CSS,
            swagger_favicon_url=FAVICON,
            swagger_ui_parameters=SWAGGER_PARAMETERS,
        )

    def redoc() -> HTMLResponse:
        """ReDoc over the OpenAPI document."""
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{title} - ReDoc",
            redoc_js_url=REDOC_JS,
            redoc_favicon_url=FAVICON,
            with_google_fonts=False,
        )

    app.add_api_route("/docs", swagger, methods=["GET"], include_in_schema=False)
    app.add_api_route("/redoc", redoc, methods=["GET"], include_in_schema=False)
