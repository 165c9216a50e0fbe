"""Playwright driving Debian's chromium (never a downloaded browser) for the browser tests.

The chromium is ``$MEETBRIDGE_CHROMIUM`` or ``/usr/bin/chromium`` (``.ci/run`` installs it);
without it the browser tests are skipped, saying why (the ``page`` fixture is in
:mod:`tests.web_fixtures`).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str | None:
    for candidate in (
        os.environ.get("MEETBRIDGE_CHROMIUM"),
        "/usr/bin/chromium",
        shutil.which("chromium"),
    ):
        if candidate and Path(candidate).exists():
            return candidate
    return None


async def sign_in(page: Any, base_url: str, email: str, password: str) -> None:
    await page.goto(f"{base_url}/login")
    await page.fill("#email", email)
    await page.fill("#password", password)
    await page.click("button[type=submit]:has-text('Sign in')")
    await page.wait_for_url(f"{base_url}/bookings")


async def connect_zoom(page: Any, base_url: str, account: str) -> None:
    """Integrations > Connect on the Zoom card > the sandbox's consent page > Allow."""
    await page.goto(f"{base_url}/profile/integrations")
    await page.locator("#provider-zoom").get_by_role("link", name="Connect", exact=True).click()
    await page.wait_for_url("**/sandbox/zoom/oauth/authorize**")
    await page.check(f"input[name=user][value='{account}']")
    await page.click("button:has-text('Allow')")
    await page.wait_for_url(f"{base_url}/profile/integrations")
