"""Sending one HTTP request to Zoom, with network failures turned into provider errors.

The distinction that matters is whether Zoom may have acted: a connection that could not be
opened means nothing was sent, but a timeout or a dropped connection *after* the request went
out leaves a create or update possibly done. Those raise ``ProviderUnavailable`` with
``ambiguous=True`` so the retry looks for the meeting before making another.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from meetbridge.providers import ProviderContext, ProviderUnavailable
from meetbridge_zoom.info import LABEL, NAME

if TYPE_CHECKING:
    import httpx


def request_options(context: ProviderContext) -> dict[str, Any]:
    """Per-request httpx options from the settings (``options.http_timeout_seconds``)."""
    timeout = context.settings.options.get("http_timeout_seconds")
    return {"timeout": float(timeout)} if timeout else {}


async def send(
    context: ProviderContext, method: str, url: str, *, what: str, **kwargs: Any
) -> httpx.Response:
    """Send a request; raise ``ProviderUnavailable`` (ambiguous when it may have acted).

    ``what`` names the operation in the error message ("create the meeting").
    """
    import httpx  # here, not at module level: importing it is slow

    # Failures that happen before the request leaves us: Zoom cannot have acted.
    not_sent = (
        httpx.ConnectError,
        httpx.ConnectTimeout,
        httpx.PoolTimeout,
        httpx.UnsupportedProtocol,
    )
    try:
        return await context.http.request(method, url, **request_options(context), **kwargs)
    except not_sent as exc:
        raise ProviderUnavailable(
            f"{LABEL} could not be reached to {what} ({type(exc).__name__}); it will be tried"
            " again.",
            provider=NAME,
            provider_code="network",
        ) from None
    except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
        # The request went out; only a read-only request is known to have changed nothing.
        ambiguous = method.upper() not in {"GET", "HEAD"}
        raise ProviderUnavailable(
            f"{LABEL} did not answer in time to {what} ({type(exc).__name__}); it may or may"
            " not have been done, and the retry checks before acting again.",
            provider=NAME,
            provider_code="timeout" if isinstance(exc, httpx.TimeoutException) else "reset",
            ambiguous=ambiguous,
        ) from None


def json_body(response: httpx.Response) -> dict[str, Any]:
    """The response's JSON object, or ``{}`` when it has none (Zoom sometimes sends HTML)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
