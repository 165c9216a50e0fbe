"""Where the sandbox is served: paths below its mount point and its own base URL.

The app may run standalone or mounted under a prefix (``/sandbox/zoom``); links it hands out
(``api_url``, join and start links) and the fault switches' path matching both account for
the prefix, which ASGI passes as ``root_path``.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request


def route_path(scope: dict[str, Any]) -> str:
    """The request path below the app's mount point (``root_path``)."""
    path, root = scope.get("path", ""), scope.get("root_path", "")
    if root and path.startswith(root):
        return path[len(root) :] or "/"
    return path


def base_url(request: Request) -> str:
    """The sandbox's own base URL, mount prefix included, without a trailing slash."""
    root = request.scope.get("root_path", "")
    return f"{request.url.scheme}://{request.url.netloc}{root}".rstrip("/")
