"""The two error shapes Microsoft answers with, built the way the real services build them.

Login (``login.microsoftonline.com``)::

    {"error": "invalid_grant",
     "error_description": "AADSTS70008: ...\\r\\nTrace ID: ...\\r\\nTimestamp: ...",
     "error_codes": [70008], "timestamp": "...", "trace_id": "...", "correlation_id": "...",
     "error_uri": "https://login.microsoftonline.com/error?code=70008"}

Graph (``graph.microsoft.com``)::

    {"error": {"code": "itemNotFound", "message": "...",
               "innerError": {"date": "...", "request-id": "...", "client-request-id": "..."}}}
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from fastapi.responses import JSONResponse

if TYPE_CHECKING:
    from meetbridge_teams.sandbox.state import SandboxState


def _timestamp(state: SandboxState) -> str:
    return state.clock().strftime("%Y-%m-%d %H:%M:%SZ")


def aad_body(
    error: str, code: int, message: str, state: SandboxState, *, suberror: str = ""
) -> dict[str, Any]:
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    body: dict[str, Any] = {
        "error": error,
        "error_description": (
            f"AADSTS{code}: {message}\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}"
            f"\r\nTimestamp: {_timestamp(state)}"
        ),
        "error_codes": [code],
        "timestamp": _timestamp(state),
        "trace_id": trace,
        "correlation_id": correlation,
        "error_uri": f"https://login.microsoftonline.com/error?code={code}",
    }
    if suberror:
        body["suberror"] = suberror
    return body


def aad_error(
    status: int, error: str, code: int, message: str, state: SandboxState, *, suberror: str = ""
) -> JSONResponse:
    return JSONResponse(
        aad_body(error, code, message, state, suberror=suberror),
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


def graph_body(code: str, message: str, state: SandboxState) -> dict[str, Any]:
    request_id = str(uuid.uuid4())
    return {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": state.clock().strftime("%Y-%m-%dT%H:%M:%S"),
                "request-id": request_id,
                "client-request-id": request_id,
            },
        }
    }


def graph_error(
    status: int,
    code: str,
    message: str,
    state: SandboxState,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = graph_body(code, message, state)
    out = {"request-id": body["error"]["innerError"]["request-id"], **(headers or {})}
    return JSONResponse(body, status_code=status, headers=out)


def monthly_limit(state: SandboxState) -> tuple[int, dict[str, Any], dict[str, str]]:
    """The answer once a user's monthly meetings quota for the app is used up.

    Microsoft documents the quota (2,000 meetings per user per month) but not the exact
    answer; the sandbox throttles with 429 and a Retry-After running to the next month.
    """
    body = graph_body(
        "TooManyRequests",
        f"The limit of {state.monthly_meeting_limit} online meetings per user per month for"
        " this application has been reached.",
        state,
    )
    return 429, body, {"Retry-After": str(state.seconds_to_next_month())}
