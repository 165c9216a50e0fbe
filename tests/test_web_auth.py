"""Signing in and out, sessions, roles, and the security headers of every page."""

from __future__ import annotations

import httpx
import pytest

from meetbridge.web.security import SESSION_COOKIE
from tests.web_support import PASSWORD, csrf_of

pytest_plugins = ["tests.web_fixtures"]

ADMIN_PAGES = ["/admin", "/admin/users", "/admin/api-keys", "/admin/webhooks"]


async def test_sign_in_with_the_right_password_and_out_again(stack) -> None:
    browser = stack.browser()
    page = await browser.sign_in("ann@acme.test", PASSWORD)
    assert str(page.url).endswith("/bookings") and "ann@acme.test" in page.text
    out = await browser.submit(page, action="/logout")
    assert str(out.url).endswith("/login")
    after = await browser.get("/bookings", follow=False)
    assert after.status_code == 303 and after.headers["location"].startswith("/login?next=")


async def test_a_wrong_password_or_unknown_email_is_refused_alike(stack) -> None:
    browser = stack.browser()
    for email, password in (("ann@acme.test", "wrong password!"), ("nobody@acme.test", PASSWORD)):
        page = await browser.get("/login")
        answer = await browser.submit(page, data={"email": email, "password": password})
        assert answer.status_code == 400
        assert "do not match an account" in answer.text
    assert (await browser.get("/bookings", follow=False)).status_code == 303


async def test_pages_need_a_signed_in_person_and_come_back_after_signing_in(stack) -> None:
    browser = stack.browser()
    first = await browser.get("/meeting-types/new", follow=False)
    assert first.status_code == 303
    assert first.headers["location"] == "/login?next=%2Fmeeting-types%2Fnew"
    login = await browser.follow(first)
    landed = await browser.submit(login, data={"email": "ann@acme.test", "password": PASSWORD})
    assert str(landed.url).endswith("/meeting-types/new")


async def test_next_never_leads_to_another_site(stack) -> None:
    browser = stack.browser()
    page = await browser.get("/login?next=//evil.example/x")
    answer = await browser.submit(
        page, data={"email": "ann@acme.test", "password": PASSWORD}, follow=False
    )
    assert answer.headers["location"] == "/bookings"


@pytest.mark.parametrize("path", ADMIN_PAGES)
async def test_a_member_cannot_open_admin_pages(stack, path: str) -> None:
    member = await stack.signed_in("ann")
    page = await member.get(path)
    assert page.status_code == 403
    assert "Only organisation admins" in page.text


async def test_a_member_cannot_post_to_admin_pages_and_nothing_is_stored(stack) -> None:
    from meetbridge.models import ApiKey, User, WebhookSubscription

    member = await stack.signed_in("ann")
    page = await member.get("/profile")
    token = csrf_of(page.text)
    users_before = stack.count(User)
    for path, data in (
        ("/admin/api-keys", {"name": "sneaky"}),
        ("/admin/webhooks", {"url": "https://evil.example/hook"}),
        ("/admin/users", {"email": "new@acme.test", "password": "x" * 12, "role": "admin"}),
        ("/admin/users/role", {"email": "ann@acme.test", "role": "admin"}),
    ):
        answer = await member.client.post(member.url(path), data={**data, "csrf_token": token})
        assert answer.status_code == 403, path
    assert stack.count(ApiKey) == 0 and stack.count(WebhookSubscription) == 0
    assert stack.count(User) == users_before
    admin = await stack.signed_in("admin")
    assert "ann@acme.test" in (await admin.get("/admin/users")).text


async def test_admins_open_every_admin_page(stack) -> None:
    admin = await stack.signed_in("admin")
    for path in ADMIN_PAGES:
        assert (await admin.get(path)).status_code == 200, path


async def test_session_cookie_is_httponly_and_samesite_lax_and_signed(stack) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url) as client:
        page = await client.get("/login")
        cookie = page.headers["set-cookie"]
        assert cookie.startswith(f"{SESSION_COOKIE}=")
        assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
        assert "secure" not in cookie.lower()  # http base URL: a Secure cookie would be dropped
        client.cookies.set(SESSION_COOKIE, "eyJ1aWQiOiAxfQ==.forged.signature")
        assert (await client.get("/bookings")).status_code == 303  # a forged cookie is nobody


async def test_cookie_is_secure_when_the_public_address_is_https(meetbridge_settings) -> None:
    from meetbridge.plugins import build_plugin_host
    from meetbridge.services import Services
    from meetbridge.web import create_app

    settings = meetbridge_settings.model_copy(update={"base_url": "https://book.example.com"})
    services = Services(settings=settings, plugins=build_plugin_host(env={}))
    transport = httpx.ASGITransport(app=create_app(services))
    try:
        async with httpx.AsyncClient(transport=transport, base_url=settings.base_url) as client:
            page = await client.get("/login")
            assert "secure" in page.headers["set-cookie"].lower()
            assert page.headers["strict-transport-security"].startswith("max-age=")
    finally:
        services.close()


async def test_security_headers_on_pages_and_framing_only_for_booking_pages(stack) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url) as client:
        page = await client.get("/login")
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["referrer-policy"] == "same-origin"
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["cache-control"] == "no-store"
        slug = stack.meeting_type()
        booking = await client.get(f"/book/{slug}?tz=UTC")
        assert "x-frame-options" not in booking.headers
        assert "frame-ancestors *" in booking.headers["content-security-policy"]


async def test_a_new_password_signs_out_other_sessions(stack) -> None:
    laptop = await stack.signed_in("ann")
    phone = await stack.signed_in("ann")
    page = await laptop.get("/profile")
    changed = await laptop.submit(
        page, action="/profile/password", data={"current": PASSWORD, "new": "a brand new secret"}
    )
    assert "Password changed" in changed.text
    assert (await laptop.get("/bookings", follow=False)).status_code == 200
    assert (await phone.get("/bookings", follow=False)).status_code == 303


async def test_deactivated_people_are_signed_out_at_once(stack) -> None:
    from meetbridge.models import User

    browser = await stack.signed_in("bob")
    with stack.services.sessions() as session, session.begin():
        session.get(User, stack.users["bob"]).active = False
    assert (await browser.get("/bookings", follow=False)).status_code == 303
