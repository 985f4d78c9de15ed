"""The service's page: ``GET /`` is a form that runs a task endpoint and shows the answer.

The answer is drawn by the same renderer as ``ieforge view`` (:mod:`ieforge.view`): the page posts the
task's JSON answer to ``POST /page/render``, which returns the view's HTML for it, and loads the view's
CSS and script. A result therefore looks the same on the page and in a file written by ``ieforge view``.

On a service with an API key the page itself loads without it (it holds no data and runs nothing) and
shows an "API key" field; the page sends the key with each of its requests, which need it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter
from fastapi.params import Depends
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from ieforge.extractor import Extractor
from ieforge.view import render_fragment, render_page

MAX_RENDER_RECORDS = 100
"""Records one ``/page/render`` request may carry (the page sends one)."""


class RenderRequest(BaseModel):
    """Result records to draw: task answers or lines of a results file."""

    records: list[Any] = Field(max_length=MAX_RENDER_RECORDS)


def router(extractor: Extractor, *, dependencies: Sequence[Depends] = ()) -> APIRouter:
    """``GET /`` (the page) and ``POST /page/render`` (records -> the view's HTML for them).
    ``dependencies`` guard ``/page/render`` (the API key's check); the page then asks for the key."""
    routes = APIRouter()
    needs_key = bool(dependencies)

    @routes.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> HTMLResponse:
        return HTMLResponse(render_page(needs_key=needs_key))

    @routes.post(
        "/page/render",
        response_class=HTMLResponse,
        include_in_schema=False,
        dependencies=list(dependencies),
    )
    def render(request: RenderRequest) -> HTMLResponse:
        return HTMLResponse(render_fragment(request.records))

    return routes
