"""Errors as people and platforms see them.

Pages answer with an HTML page that says what happened and what to do; everything under
``/api/`` and ``/webhooks/`` answers in one JSON shape::

    {"error": {"code": "slot_unavailable", "message": "...", "details": [...]}}
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from meetbridge.observability.logs import request_id_var
from meetbridge.web.security import CsrfFailed

log = logging.getLogger("meetbridge.web")


class LoginRequired(Exception):
    """The page needs a signed-in person."""


class Forbidden(Exception):
    """Signed in, but not allowed (a member on an admin page)."""

    def __init__(self, message: str = "Only organisation admins can open this page.") -> None:
        super().__init__(message)
        self.message = message


class PageError(Exception):
    """A page-level 4xx with a message for people."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


class ApiError(Exception):
    """An API error in the one JSON shape."""

    def __init__(
        self, status: int, code: str, message: str, details: list[Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


def has_nul(*values: object) -> bool:
    """Whether any of these strings has a NUL character: no database stores or compares them
    (PostgreSQL refuses the whole query), so a request carrying one is refused before any
    look-up."""
    return any(isinstance(v, str) and "\x00" in v for v in values)


async def clean_form(request: Request) -> Any:
    """The submitted form after its CSRF check (``verified_form``), refused with a 400 page
    when a field carries a NUL character (see :func:`has_nul`): nothing is looked up or
    stored with one."""
    from meetbridge.web.security import verified_form

    form = await verified_form(request)
    if any(has_nul(name, value) for name, value in form.multi_items()):
        raise PageError(
            400, "That request is not valid", "Text cannot contain NUL characters. Nothing changed."
        )
    return form


def error_json(
    status: int, code: str, message: str, details: list[Any] | None = None, **headers: str
) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status, headers=headers or None)


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith(("/api/", "/webhooks/", "/healthz"))


def _page(request: Request, status: int, title: str, message: str) -> Response:
    from meetbridge.web.templating import render

    return render(request, "error.html", status=status, title=title, message=message)


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
}


def _validation_details(exc: RequestValidationError) -> tuple[str, str, list[Any]]:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return "malformed_json", "The request body is not valid JSON.", []
    details = [
        {
            "field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"),
            "message": str(e.get("msg", "")).removeprefix("Value error, "),
        }
        for e in errors
    ]
    summary = "; ".join(f"{d['field']}: {d['message']}" for d in details)
    return "invalid_request", f"The request is not valid: {summary}", details


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def _login(request: Request, _exc: LoginRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        from urllib.parse import quote

        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> Response:
        if _wants_json(request):
            return error_json(403, "forbidden", exc.message)
        return _page(request, 403, "Not allowed", exc.message)

    @app.exception_handler(CsrfFailed)
    async def _csrf(request: Request, _exc: CsrfFailed) -> Response:
        return _page(
            request,
            403,
            "This form could not be accepted",
            "The form did not come from this meetbridge page, or your session expired. Go"
            " back, reload the page and try again. Nothing was changed.",
        )

    @app.exception_handler(PageError)
    async def _page_error(request: Request, exc: PageError) -> Response:
        return _page(request, exc.status, exc.title, exc.message)

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> Response:
        extra = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
        return error_json(exc.status, exc.code, exc.message, exc.details, **extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        code, message, details = _validation_details(exc)
        status = 400 if code == "malformed_json" else 422
        if _wants_json(request):
            return error_json(status, code, message, details)
        return _page(request, 400, "That request is not valid", message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = _STATUS_CODES.get(exc.status_code, "error")
        message = str(exc.detail) if exc.detail else code.replace("_", " ")
        if exc.status_code == 404:
            message = "Nothing here: check the address."
        if _wants_json(request):
            return error_json(exc.status_code, code, message, **(exc.headers or {}))
        return _page(request, exc.status_code, message, "")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        # Starlette answers this outside the middleware that sets X-Request-ID, so the answer
        # carries it here: the reference a person quotes is the one in the log line.
        request_id = request_id_var.get()
        message = "Something went wrong on our side; it was logged. Try again in a moment."
        if request_id:
            message += f" Reference: {request_id}."
        if _wants_json(request):
            answer = error_json(500, "internal_error", message)
        else:
            answer = _page(request, 500, "Something went wrong", message)
        if request_id:
            answer.headers["X-Request-ID"] = request_id
        return answer
