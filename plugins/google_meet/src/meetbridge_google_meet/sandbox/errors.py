"""Google's error answers, as the sandbox sends them."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

# The ``status`` string Google's front end adds beside the numeric code on auth, permission
# and quota errors.
_STATUS_NAMES = {401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 429: "RESOURCE_EXHAUSTED"}


def api_error(
    status: int,
    reason: str,
    message: str,
    *,
    domain: str = "global",
    headers: dict[str, str] | None = None,
    location: tuple[str, str] | None = None,
) -> JSONResponse:
    """A Calendar API error: ``{"error": {"errors": [...], "code", "message"}}``."""
    item: dict[str, Any] = {"domain": domain, "reason": reason, "message": message}
    if location is not None:
        item["locationType"], item["location"] = location
    error: dict[str, Any] = {"errors": [item], "code": status, "message": message}
    if status in _STATUS_NAMES:
        error["status"] = _STATUS_NAMES[status]
    return JSONResponse({"error": error}, status_code=status, headers=headers)


def auth_error() -> JSONResponse:
    """401 for a missing, unknown, expired or revoked access token."""
    return api_error(
        401,
        "authError",
        "Invalid Credentials",
        location=("header", "Authorization"),
        headers={
            "WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"'
        },
    )


def insufficient_permissions() -> JSONResponse:
    return api_error(403, "insufficientPermissions", "Insufficient Permission")


def oauth_error(
    status: int, error: str, description: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """An OAuth endpoint error: ``{"error": "...", "error_description": "..."}``."""
    return JSONResponse(
        {"error": error, "error_description": description}, status_code=status, headers=headers
    )


def fault_response(kind: str, *, oauth: bool) -> JSONResponse:
    """The answer for an injected fault that is an HTTP error (not a hang or a reset)."""
    if kind == "5xx":
        if oauth:
            return oauth_error(500, "internal_failure", "Internal failure.")
        return api_error(500, "backendError", "Backend Error")
    if kind == "503_retry_after":
        headers = {"Retry-After": "2"}
        if oauth:
            return oauth_error(503, "temporarily_unavailable", "Service unavailable.", headers)
        return api_error(
            503, "backendError", "The service is currently unavailable.", headers=headers
        )
    if kind == "rate_limit_qps":
        return api_error(403, "rateLimitExceeded", "Rate Limit Exceeded", domain="usageLimits")
    if kind == "rate_limit_429":
        return api_error(429, "rateLimitExceeded", "Rate Limit Exceeded", domain="usageLimits")
    if kind == "rate_limit_user":
        return api_error(
            403, "userRateLimitExceeded", "User Rate Limit Exceeded", domain="usageLimits"
        )
    if kind == "rate_limit_daily":
        return api_error(403, "dailyLimitExceeded", "Daily Limit Exceeded", domain="usageLimits")
    if kind == "calendar_usage_limit":
        return api_error(
            403, "quotaExceeded", "Calendar usage limits exceeded.", domain="usageLimits"
        )
    raise ValueError(f"fault kind {kind!r} is not an HTTP error")
