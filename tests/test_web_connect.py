"""Connecting providers from the Integrations page: OAuth through the sandboxes' consent pages
over real HTTP, state bound to the session, PKCE, disconnect, and who may touch what."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlencode, urlsplit

from sqlalchemy import select

from meetbridge.models import Connection, ConnectionStatus
from meetbridge.web.sandbox import answer_consent
from meetbridge.web.security import SESSION_COOKIE
from tests.web_support import ZOOM_BASIC, ZOOM_LICENSED

pytest_plugins = ["tests.web_fixtures"]


def connections(stack) -> list[Connection]:
    with stack.services.sessions() as session:
        return list(session.scalars(select(Connection).order_by(Connection.id)))


def zoom_card(page) -> str:
    text = page.text
    start = text.index('id="provider-zoom"')
    return text[start : text.index("</section>", start)]


async def test_connecting_zoom_shows_active_with_the_account_email_and_date(stack) -> None:
    ann = await stack.signed_in("ann")
    page = await stack.connect(ann, "zoom", ZOOM_LICENSED)
    assert str(page.url).endswith("/profile/integrations")
    card = zoom_card(page)
    assert "Active" in card and ZOOM_LICENSED in card and "connected-date" in card
    assert "Disconnect" in card
    [conn] = connections(stack)
    assert conn.owner_user_id == stack.users["ann"] and conn.status == ConnectionStatus.ACTIVE
    issued = stack.sandboxes["zoom"].state.tokens
    assert all(value.encode() not in conn.token_ciphertext for value in issued)  # encrypted


async def test_the_connect_in_progress_is_encrypted_in_the_session_and_uses_pkce(stack) -> None:
    ann = await stack.signed_in("ann")
    start = await ann.get("/connect/zoom", follow=False)
    query = parse_qs(urlsplit(start.headers["location"]).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    state = query["state"][0]
    cookie = ann.client.cookies[SESSION_COOKIE]
    session = json.loads(base64.b64decode(cookie.split(".")[0]))
    assert "zoom" in session["connect"]
    assert state not in json.dumps(session)  # state and verifier are sealed by the vault


async def test_a_wrong_state_is_refused_stores_nothing_and_spends_the_attempt(stack) -> None:
    ann = await stack.signed_in("ann")
    consent = await ann.get("/connect/zoom")
    back = await answer_consent(ann, consent, "zoom", ZOOM_LICENSED)
    real = urlsplit(back.headers["location"])
    params = {k: v[0] for k, v in parse_qs(real.query).items()}
    forged = await ann.get(f"{real.path}?{urlencode({**params, 'state': 'attacker-state'})}")
    assert forged.status_code == 400 and "did not start here" in forged.text
    assert connections(stack) == []
    replay = await ann.get(back.headers["location"])  # the genuine callback, too late
    assert replay.status_code == 400
    assert connections(stack) == []


async def test_a_callback_in_another_browser_is_refused(stack) -> None:
    ann = await stack.signed_in("ann")
    consent = await ann.get("/connect/zoom")
    back = await answer_consent(ann, consent, "zoom", ZOOM_LICENSED)
    bob = await stack.signed_in("bob")  # someone else's session receives the code
    answer = await bob.get(back.headers["location"])
    assert answer.status_code == 400 and "did not start here" in answer.text
    assert connections(stack) == []


async def test_declining_at_the_provider_says_so_and_stores_nothing(stack) -> None:
    ann = await stack.signed_in("ann")
    page = await stack.connect(ann, "zoom", ZOOM_LICENSED, allow=False)
    assert page.status_code == 400
    assert "You declined access at Zoom" in page.text
    assert connections(stack) == []


async def test_members_cannot_connect_for_the_organisation(stack) -> None:
    ann = await stack.signed_in("ann")
    answer = await ann.get("/connect/zoom?scope=organization")
    assert answer.status_code == 403 and "Only an organisation admin" in answer.text
    assert connections(stack) == []


async def test_an_unknown_provider_names_the_installed_ones(stack) -> None:
    ann = await stack.signed_in("ann")
    answer = await ann.get("/connect/webex")
    assert answer.status_code == 404
    assert "zoom" in answer.text and "google_meet" in answer.text


async def test_admin_connects_zoom_for_the_organisation_and_sees_rooms_and_members(stack) -> None:
    ann = await stack.signed_in("ann")
    await stack.connect(ann, "zoom", ZOOM_LICENSED)
    admin = await stack.signed_in("admin")
    page = await stack.connect(admin, "zoom", "ada.admin@example.com", scope="organization")
    org = page.text[page.text.index('id="org-zoom"') :]
    org = org[: org.index("</section>")]
    assert "Active" in org and "ada.admin@example.com" in org
    assert "Boardroom" in org and "Huddle Room" in org  # Zoom Rooms, through the admin grant
    members = page.text[page.text.index("<h2>Members</h2>") :]
    row = members[members.index("ann@acme.test") :]
    assert "Active" in row[: row.index("</tr>")]
    owners = {c.owner_user_id for c in connections(stack)}
    assert owners == {stack.users["ann"], None}


async def test_disconnect_asks_first_then_deletes_tokens_and_revokes_the_grant(stack) -> None:
    ann = await stack.signed_in("ann")
    page = await stack.connect(ann, "zoom", ZOOM_LICENSED)
    [conn] = connections(stack)
    confirm = await ann.get(f"/profile/integrations/{conn.id}/disconnect")
    assert "Disconnect Zoom?" in confirm.text and "Meetings already created stay" in confirm.text
    assert connections(stack)[0].status == ConnectionStatus.ACTIVE  # asking changes nothing
    done = await ann.submit(confirm, action=f"/profile/integrations/{conn.id}/disconnect")
    card = zoom_card(done)
    assert "Disconnected" in card and "Reconnect" in card and "Active" not in card
    [after] = connections(stack)
    assert after.status == ConnectionStatus.REVOKED and after.token_ciphertext is None
    state = stack.sandboxes["zoom"].state
    assert state.revoke_calls == 1
    assert all(g.revoked for g in state.grants.values())
    del page


async def test_another_persons_connection_cannot_be_seen_or_disconnected(stack) -> None:
    ann = await stack.signed_in("ann")
    await stack.connect(ann, "zoom", ZOOM_LICENSED)
    [conn] = connections(stack)
    for who in ("bob", "admin"):  # admins manage the organisation's, not a member's own
        other = await stack.signed_in(who)
        assert (await other.get(f"/profile/integrations/{conn.id}/disconnect")).status_code == 404
        profile = await other.get("/profile")
        from tests.web_support import csrf_of

        answer = await other.client.post(
            other.url(f"/profile/integrations/{conn.id}/disconnect"),
            data={"csrf_token": csrf_of(profile.text)},
        )
        assert answer.status_code == 404
    [still] = connections(stack)
    assert still.status == ConnectionStatus.ACTIVE and still.token_ciphertext is not None


async def test_a_broken_connection_shows_its_badge_reason_and_reconnect(stack) -> None:
    ann = await stack.signed_in("ann")
    await stack.connect(ann, "zoom", ZOOM_LICENSED)
    with stack.services.sessions() as session, session.begin():
        conn = session.scalars(select(Connection)).one()
        conn.status = ConnectionStatus.NEEDS_RECONNECT
        conn.last_error = "Invalid Token!"
        conn.token_ciphertext = None
    card = zoom_card(await ann.get("/profile/integrations"))
    assert "Needs reconnect" in card and "Invalid Token!" in card
    assert 'href="/connect/zoom"' in card and "Reconnect" in card
    again = await stack.connect(ann, "zoom", ZOOM_LICENSED)
    assert "Active" in zoom_card(again)


async def test_a_free_zoom_account_gets_the_40_minute_warning(stack) -> None:
    ann = await stack.signed_in("ann")
    page = await stack.connect(ann, "zoom", ZOOM_BASIC)
    assert "40 minutes" in zoom_card(page)


async def test_microsoft_admin_consent_return_is_a_friendly_message(stack) -> None:
    browser = stack.browser()
    page = await browser.get(
        "/connect/teams/callback?admin_consent=True&tenant=b7e2d9c4&scope=x&state="
    )
    assert page.status_code == 200
    assert "Consent granted" in page.text and "b7e2d9c4" in page.text
    assert connections(stack) == []


async def test_microsoft_sign_in_errors_are_explained_by_the_teams_plugin(stack) -> None:
    ann = await stack.signed_in("ann")
    page = await stack.connect(ann, "teams", "lee@fabrikam.example")  # needs admin consent
    assert page.status_code == 400
    assert "requires an administrator to approve" in page.text
    assert "adminconsent" in page.text  # the exact admin consent URL, pointing at the sandbox
    assert connections(stack) == []


async def test_google_and_teams_connect_through_their_consent_pages(stack) -> None:
    ann = await stack.signed_in("ann")
    google = await stack.connect(ann, "google_meet", "alice@example.com")
    teams = await stack.connect(ann, "teams", "adele@contoso.example")
    assert "alice@example.com" in google.text and "adele@contoso.example" in teams.text
    assert {c.provider for c in connections(stack)} == {"google_meet", "teams"}
