"""The operator page stays true to the plugin: scopes, URLs and settings it documents."""

from __future__ import annotations

from pathlib import Path

import pytest

from meetbridge_zoom.info import (
    ADMIN_SCOPES,
    CLASSIC_ADMIN_SCOPES,
    CLASSIC_USER_SCOPES,
    ENDPOINTS,
    USER_SCOPES,
)

DOC = Path(__file__).resolve().parents[3] / "docs" / "providers" / "zoom.md"


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text()


@pytest.mark.parametrize(
    "scope", USER_SCOPES + ADMIN_SCOPES + CLASSIC_USER_SCOPES + CLASSIC_ADMIN_SCOPES
)
def test_every_scope_the_plugin_relies_on_is_documented(doc, scope):
    assert f"`{scope}`" in doc


@pytest.mark.parametrize(
    "text",
    [
        "{base_url}/connect/zoom/callback",
        "{base_url}/webhooks/zoom",
        "MEETBRIDGE_PROVIDERS__ZOOM__CLIENT_ID",
        "MEETBRIDGE_PROVIDERS__ZOOM__CLIENT_SECRET",
        "MEETBRIDGE_PROVIDERS__ZOOM__WEBHOOK_SECRET",
        "ACCOUNT_LEVEL_CLIENT_ID",
        "ACCOUNT_LEVEL_CLIENT_SECRET",
        "ACCOUNT_LEVEL_WEBHOOK_SECRET",
        "ZOOM_PLAN",
        *ENDPOINTS.values(),
    ],
)
def test_urls_and_settings_are_documented(doc, text):
    assert text in doc
