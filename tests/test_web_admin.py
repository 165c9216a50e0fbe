"""Admin pages: people and roles, API keys (shown once, hashed, revocable), webhooks."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select

from meetbridge.models import ApiKey, Role, User, WebhookSubscription

pytest_plugins = ["tests.web_fixtures"]


async def test_admins_add_people_who_can_then_sign_in(stack) -> None:
    admin = await stack.signed_in("admin")
    page = await admin.get("/admin/users")
    done = await admin.submit(
        page,
        action="/admin/users",
        data={
            "email": "Cara@Acme.test",
            "name": "Cara",
            "password": "cara's password",
            "role": "member",
        },
    )
    assert "cara@acme.test can now sign in" in done.text
    cara = stack.browser()
    await cara.sign_in("cara@acme.test", "cara's password")
    bad = await admin.submit(
        done, action="/admin/users", data={"email": "dan@acme.test", "password": "short"}
    )
    assert bad.status_code == 400 and "at least 10 characters" in bad.text
    with stack.services.sessions() as session:
        assert session.scalars(select(User).where(User.email == "dan@acme.test")).first() is None


async def test_roles_change_and_the_last_admin_stays_admin(stack) -> None:
    admin = await stack.signed_in("admin")
    page = await admin.get("/admin/users")
    refused = await admin.submit(
        page, action="/admin/users/role", data={"email": "admin@acme.test", "role": "member"}
    )
    assert refused.status_code == 400 and "only admin" in refused.text
    promoted = await admin.submit(
        page, action="/admin/users/role", data={"email": "ann@acme.test", "role": "admin"}
    )
    assert "ann@acme.test is now admin" in promoted.text
    ann = await stack.signed_in("ann")
    assert (await ann.get("/admin")).status_code == 200  # takes effect at once
    with stack.services.sessions() as session:
        assert session.get(User, stack.users["ann"]).role == Role.ADMIN


async def test_an_api_key_is_shown_once_works_and_can_be_revoked(stack) -> None:
    admin = await stack.signed_in("admin")
    page = await admin.get("/admin/api-keys")
    made = await admin.submit(page, action="/admin/api-keys", data={"name": "ERP"})
    key = re.search(r'id="new-api-key">([^<]+)<', made.text)[1]
    listing = await admin.get("/admin/api-keys")
    assert key not in listing.text and "ERP" in listing.text
    with stack.services.sessions() as session:
        assert key not in session.scalars(select(ApiKey.key_hash)).one()
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=stack.base_url + "/api/v1", headers=headers) as api:
        assert (await api.get("/meeting-types")).status_code == 200
        key_id = session_key_id(stack)
        revoked = await admin.submit(listing, action=f"/admin/api-keys/{key_id}/revoke")
        assert "revoked" in revoked.text.lower()
        assert (await api.get("/meeting-types")).status_code == 401
    empty = await admin.submit(revoked, action="/admin/api-keys", data={"name": "  "})
    assert empty.status_code == 400 and "Give the key a name" in empty.text


def session_key_id(stack) -> int:
    with stack.services.sessions() as session:
        return session.scalars(select(ApiKey.id)).one()


async def test_webhooks_show_their_secret_once_and_keep_it_encrypted(stack) -> None:
    admin = await stack.signed_in("admin")
    page = await admin.get("/admin/webhooks")
    made = await admin.submit(
        page,
        action="/admin/webhooks",
        data={"url": "https://platform.example/hook", "events": ["connection.revoked"]},
    )
    secret = re.search(r'id="new-webhook-secret">([^<]+)<', made.text)[1]
    assert secret.startswith("whsec_")
    with stack.services.sessions() as session:
        sub = session.scalars(select(WebhookSubscription)).one()
        assert sub.events == ["connection.revoked"] and secret.encode() not in sub.secret_ciphertext
        sub_id = sub.id
    listing = await admin.get("/admin/webhooks")
    assert secret not in listing.text and "https://platform.example/hook" in listing.text
    bad = await admin.submit(listing, action="/admin/webhooks", data={"url": "ftp://x"})
    assert bad.status_code == 400 and "http(s) URL" in bad.text
    gone = await admin.submit(listing, action=f"/admin/webhooks/{sub_id}/delete")
    assert "Webhook deleted" in gone.text and stack.count(WebhookSubscription) == 0


async def test_shortcuts_and_static_files(stack) -> None:
    ann = await stack.signed_in("ann")
    assert (await ann.get("/", follow=False)).headers["location"] == "/bookings"
    assert (await ann.get("/integrations", follow=False)).headers["location"] == (
        "/profile/integrations"
    )
    css = await ann.get("/static/style.css")
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]
    anonymous = stack.browser()
    assert (await anonymous.get("/", follow=False)).headers["location"] == "/login"
