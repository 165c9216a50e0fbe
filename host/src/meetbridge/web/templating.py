"""Jinja2 templates: one environment, autoescaped, with date filters in the reader's zone."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from meetbridge.web.context import current_viewer, take_flashes, web
from meetbridge.web.security import CSRF_FIELD, csrf_token

PROVIDER_LABELS_FALLBACK = {
    "zoom": "Zoom",
    "google_meet": "Google Meet",
    "teams": "Microsoft Teams",
    "host_default_video": "The host's video (first connected provider)",
    "phone": "Phone call",
    "in_person": "In person",
    "custom_link": "Custom link",
}


def local_time(value: datetime | None, zone: str, fmt: str = "%a %d %b %Y, %H:%M") -> str:
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(zone)).strftime(fmt)


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("meetbridge.web", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["local"] = local_time
    env.filters["label"] = lambda name: PROVIDER_LABELS_FALLBACK.get(
        str(name), str(name).replace("_", " ")
    )
    return env


def render(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    viewer = current_viewer(request) if hasattr(request.app.state, "web") else None
    ctx = web(request)
    labels = {name: info.label for name, info in ctx.services.plugins.providers().items()}
    html = (
        environment()
        .get_template(template)
        .render(
            request=request,
            viewer=viewer,
            csrf_field=CSRF_FIELD,
            csrf=csrf_token(request),
            flashes=take_flashes(request),
            base_url=ctx.base_url,
            provider_labels=labels,
            sandbox_mode=bool(ctx.sandboxes),
            **context,
        )
    )
    return HTMLResponse(html, status_code=status)
