"""The story ``meetbridge demo`` plays, step by step, with the checks after each step."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import httpx
from rich.console import Console
from rich.markup import escape

from meetbridge.web.sandbox import SandboxMount, answer_consent
from meetbridge.web.scripted_browser import BrowserError, ScriptedBrowser

ORG = "Acme Tutoring"
ADMIN = ("ada@acme.example", "Ada Admin")
MEMBER = ("lena@acme.example", "Lena Tutor")
ZOOM_ACCOUNT = "lena.licensed@example.com"
GOOGLE_ACCOUNT = "alice@example.com"
CLIENT = ("Casey Client", "casey@client.example")
SECOND_CLIENT = ("Pat Platform-User", "pat@client.example")


class DemoFailed(Exception):
    """A step's check did not hold; ``step`` names the step, ``message`` what was wrong."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(message)
        self.step, self.message = step, message


class Story:
    """The people of the demo doing their part over HTTP, each check printed as it holds."""

    def __init__(
        self,
        console: Console,
        base_url: str,
        sandboxes: dict[str, SandboxMount],
        logins: dict[str, str],
        receiver: tuple[str, list[tuple[dict[str, str], bytes]]],
        background: Any,
    ) -> None:
        self.console = console
        self.base = base_url
        self.sandboxes = sandboxes
        self.logins = logins
        self.receiver_url, self.received = receiver
        self.background = background  # runs the worker's due jobs and delivers the outbox
        self.current = "setup"
        self.number = 0
        self.checks = 0
        self.clients: list[Any] = []

    # -- transcript ---------------------------------------------------------------------------
    @asynccontextmanager
    async def step(self, title: str) -> AsyncIterator[None]:
        self.number += 1
        self.current = title
        self.console.print(f"\n[bold cyan]{self.number}. {title}[/]")
        try:
            yield
        except DemoFailed:
            raise
        except (AssertionError, BrowserError, httpx.HTTPError, KeyError, ValueError) as exc:
            raise DemoFailed(title, f"{type(exc).__name__}: {exc}") from exc

    def http(self, line: str) -> None:
        self.console.print(f"   [dim]{escape(line)}[/]")

    def ok(self, text: str) -> None:
        self.checks += 1
        self.console.print(f"   [green]✓[/] {text}")

    def say(self, text: str) -> None:
        self.console.print(f"   {text}")

    def check(self, condition: object, message: str) -> None:
        if not condition:
            raise DemoFailed(self.current, message)

    def browser(self) -> ScriptedBrowser:
        browser = ScriptedBrowser(self.base, log=self.http)
        self.clients.append(browser)
        return browser

    async def close(self) -> None:
        for client in self.clients:
            await client.aclose()

    # -- the story ----------------------------------------------------------------------------
    async def play(self) -> None:
        api = await self.admin_creates_api_key()
        secret = await self.platform_subscribes(api)
        lena = await self.member_connects_zoom()
        await self.member_connects_google(lena)
        slug = await self.member_creates_meeting_type(lena)
        client, manage_url, meeting_id = await self.client_books(slug)
        await self.client_reschedules(client, manage_url, meeting_id)
        await self.platform_cancels(api, manage_url, meeting_id)
        await self.member_disconnects_zoom(lena)
        await self.next_booking_uses_google(api, slug)
        await self.background_work(secret)

    async def admin_creates_api_key(self) -> httpx.AsyncClient:
        async with self.step(
            f"{ADMIN[1]} (admin) signs in and creates an API key for the platform"
        ):
            admin = self.browser()
            await admin.sign_in(ADMIN[0], self.logins[ADMIN[0]])
            page = await admin.get("/admin/api-keys")
            page = await admin.submit(
                page, action="/admin/api-keys", data={"name": "Acme platform"}
            )
            found = re.search(r'id="new-api-key">([^<]+)<', page.text)
            self.check(found, "the API key page did not show the new key")
            key = html.unescape(found[1]) if found else ""
            self.ok(f"API key created (shown once): {key[:14]}…")
        api = httpx.AsyncClient(
            base_url=f"{self.base}/api/v1", headers={"Authorization": f"Bearer {key}"}, timeout=30
        )
        self.clients.append(api)
        return api

    async def platform_subscribes(self, api: httpx.AsyncClient) -> str:
        async with self.step("The platform subscribes to meetbridge's signed webhooks"):
            answer = await api.post(
                "/webhook-subscriptions", json={"url": f"{self.receiver_url}/events"}
            )
            self.http(f"POST /api/v1/webhook-subscriptions -> {answer.status_code}")
            self.check(answer.status_code == 201, f"subscription refused: {answer.text}")
            body = answer.json()
            self.ok(f"subscribed {body['url']} to {', '.join(body['events'])}")
            return str(body["secret"])

    async def member_connects_zoom(self) -> ScriptedBrowser:
        async with self.step(f"{MEMBER[1]} connects Zoom through the Zoom sandbox's consent page"):
            lena = self.browser()
            await lena.sign_in(MEMBER[0], self.logins[MEMBER[0]])
            consent = await lena.get("/connect/zoom")
            self.check(
                "/sandbox/zoom/oauth/authorize" in str(consent.url) and consent.status_code == 200,
                f"expected Zoom's consent page, got {consent.url} ({consent.status_code})",
            )
            query = consent.url.params
            self.check(
                query.get("state") and query.get("code_challenge_method") == "S256",
                "the authorize request carries no state or no PKCE S256 challenge",
            )
            self.ok("sent to Zoom's consent page with state and a PKCE S256 challenge")
            back = await answer_consent(lena, consent, "zoom", ZOOM_ACCOUNT)
            target = back.headers.get("location", "")
            self.check(
                target.startswith(f"{self.base}/connect/zoom/callback?code="),
                f"Zoom did not redirect back with a code ({target[:80]})",
            )
            self.ok(f"allowed as {ZOOM_ACCOUNT}; Zoom redirected back with a code")
            page = await lena.follow(back)
            card = _card(page.text, "zoom")
            self.check(
                "Active" in card and ZOOM_ACCOUNT in card,
                f"Integrations does not show Zoom as Active ({_said(page.text)})",
            )
            since = re.search(r'connected-date">([^<]+)<', card)
            self.ok(
                f"Integrations: Zoom [green]Active[/], {ZOOM_ACCOUNT}, {since[1] if since else ''}"
            )
            return lena

    async def member_connects_google(self, lena: ScriptedBrowser) -> None:
        async with self.step(f"{MEMBER[1]} connects Google Meet too (the fallback)"):
            consent = await lena.get("/connect/google_meet")
            back = await answer_consent(lena, consent, "google_meet", GOOGLE_ACCOUNT)
            page = await lena.follow(back)
            card = _card(page.text, "google_meet")
            self.check(
                "Active" in card,
                f"Integrations does not show Google Meet as Active ({_said(page.text)})",
            )
            self.ok(f"Integrations: Google Meet [green]Active[/], {GOOGLE_ACCOUNT}")

    async def member_creates_meeting_type(self, lena: ScriptedBrowser) -> str:
        async with self.step(
            f"{MEMBER[1]} creates a meeting type: Intro call, 30 minutes, on Zoom"
        ):
            form = await lena.get("/meeting-types/new")
            page = await lena.submit(
                form,
                action="/meeting-types/new",
                data={
                    "name": "Intro call",
                    "duration_minutes": "30",
                    "location": "zoom",
                    "hosts": [MEMBER[0]],
                    "assignment": "one_person",
                    "video_mode": "always",
                    "description": "A first 30-minute call with a tutor.",
                },
            )
            self.check(f"{self.base}/book/intro-call" in page.text, "the booking link is missing")
            self.ok(f"booking link: {self.base}/book/intro-call (and an embed snippet)")
            return "intro-call"

    async def client_books(self, slug: str) -> tuple[ScriptedBrowser, str, int]:
        async with self.step(f"{CLIENT[0]} books on the public page (times in Europe/Paris)"):
            client = self.browser()
            page = await client.get(f"/book/{slug}?tz=Europe/Paris")
            slot = re.search(r'class="slot" href="([^"]+)"', page.text)
            self.check(slot, "the booking page shows no free slot")
            details = await client.get(html.unescape(slot[1]) if slot else "")
            start = _start_of(details.text)
            done = await client.submit(
                details, action=f"/book/{slug}", data={"name": CLIENT[0], "email": CLIENT[1]}
            )
            self.check("You're booked" in done.text, f"no confirmation page ({done.status_code})")
            manage_url = str(done.url)
            join = re.search(r'class="join-url">([^<]+)<', done.text)
            self.check(join, "the confirmation shows no join link")
            join_url = html.unescape(join[1]) if join else ""
            self.ok(
                f"confirmed for {start:%a %d %b %H:%M} UTC; join link on the page: {join_url[:60]}…"
            )
            meeting = self._zoom_meeting(join_url)
            self.check(meeting["host_email"] == ZOOM_ACCOUNT, "the meeting is not on Lena's Zoom")
            self.check(meeting["start"] == start, f"Zoom has {meeting['start']}, expected {start}")
            settings = meeting["settings"]
            self.check(settings["waiting_room"] is True, "waiting room is off")
            self.check(settings["join_before_host"] is False, "join before host is on")
            self.check(settings["auto_recording"] == "none", "auto recording is on")
            self.ok(
                f"on the Zoom sandbox: meeting {meeting['id']} for {ZOOM_ACCOUNT} at"
                f" {meeting['start']:%H:%M} UTC, waiting_room=true, join_before_host=false,"
                f" auto_recording=none, timezone {meeting['timezone']}"
            )
            self.check("sandbox/zoom/s/" not in done.text, "a host start link reached the client")
            self.ok("the client's page carries the join link only (no host start link)")
            return client, manage_url, int(meeting["id"])

    def _zoom_meeting(self, join_url: str) -> dict[str, Any]:
        state = self.sandboxes["zoom"].state
        found = [m for m in state.meetings.values() if m["join_url"] == join_url]
        self.check(found, "no meeting with that join link exists on the Zoom sandbox")
        return found[0]

    async def client_reschedules(
        self, client: ScriptedBrowser, manage_url: str, meeting_id: int
    ) -> None:
        async with self.step("The client reschedules from the private manage link"):
            manage = await client.get(manage_url)
            link = re.search(r'href="(/manage/[^"]+/reschedule\?[^"]+)"', manage.text)
            self.check(link, "the manage page offers no Reschedule link")
            page = await client.get(html.unescape(link[1]) if link else "")
            choices = re.findall(r'name="start" value="([^"]+)"', page.text)
            self.check(len(choices) > 3, "no other free times to move to")
            new_start = datetime.fromisoformat(choices[3])
            done = await client.submit(page, data={"start": choices[3]})
            self.check("Rescheduled" in done.text, "the booking was not rescheduled")
            meeting = self.sandboxes["zoom"].state.meetings[meeting_id]
            self.check(
                meeting["start"] == new_start and not meeting["_deleted"],
                f"the Zoom meeting is at {meeting['start']}, expected {new_start}",
            )
            self.ok(
                f"moved to {new_start:%a %d %b %H:%M} UTC; the same Zoom meeting {meeting_id}"
                " was updated"
            )

    async def platform_cancels(
        self, api: httpx.AsyncClient, manage_url: str, meeting_id: int
    ) -> None:
        uid = manage_url.split("/manage/", 1)[1].split("?", 1)[0]
        async with self.step("The platform reads the booking, then cancels it through the API"):
            got = (await api.get(f"/bookings/{uid}")).json()
            self.http(f"GET /api/v1/bookings/{uid} -> conferencing {got['conferencing']['status']}")
            self.check(got["conferencing"]["provider"] == "zoom", "the API does not report Zoom")
            self.check("start_url" not in str(got) and "/s/" not in str(got), "a start link leaked")
            self.ok("the API reports conferencing provisioned on Zoom, with the join link only")
            answer = await api.post(f"/bookings/{uid}/cancel", json={"reason": "Plans changed"})
            self.http(f"POST /api/v1/bookings/{uid}/cancel -> {answer.status_code}")
            self.check(answer.json()["status"] == "cancelled", "the booking is not cancelled")
            meeting = self.sandboxes["zoom"].state.meetings[meeting_id]
            self.check(meeting["_deleted"], "the Zoom meeting still exists")
            self.ok(f"cancelled; Zoom meeting {meeting_id} deleted on the Zoom sandbox")

    async def member_disconnects_zoom(self, lena: ScriptedBrowser) -> None:
        async with self.step(f"{MEMBER[1]} disconnects Zoom (after a confirmation page)"):
            page = await lena.get("/profile/integrations")
            link = re.search(
                r'href="(/profile/integrations/\d+/disconnect)"', _card(page.text, "zoom")
            )
            self.check(link, "no Disconnect button on the Zoom card")
            confirm = await lena.get(link[1] if link else "")
            self.check("Disconnect Zoom?" in confirm.text, "no confirmation page")
            self.ok("asked to confirm: meetings already made stay, new bookings fall back")
            done = await lena.submit(confirm, action=link[1] if link else "")
            card = _card(done.text, "zoom")
            self.check(
                "Active" not in card and "Reconnect" in card,
                f"Zoom still shows as connected: {card}",
            )
            state = self.sandboxes["zoom"].state
            user = state.user(ZOOM_ACCOUNT)
            live = [g for g in state.grants.values() if g.user_id == user.id and not g.revoked]
            self.check(not live, "the grant is still live at Zoom")
            self.ok("tokens deleted here and the grant revoked at the Zoom sandbox")

    async def next_booking_uses_google(self, api: httpx.AsyncClient, slug: str) -> None:
        async with self.step(
            "The platform books again through the API: it falls back to Google Meet"
        ):
            slots = (
                await api.get(f"/meeting-types/{slug}/slots", params={"timezone": "Europe/Paris"})
            ).json()
            start = slots["slots"][1]["start"]
            before = len(self.sandboxes["zoom"].state.live_meetings())
            answer = await api.post(
                "/bookings",
                json={
                    "meeting_type": slug,
                    "start": start,
                    "name": SECOND_CLIENT[0],
                    "email": SECOND_CLIENT[1],
                    "timezone": "Europe/Paris",
                },
            )
            self.http(f"POST /api/v1/bookings -> {answer.status_code}")
            self.check(answer.status_code == 201, f"booking refused: {answer.text}")
            conferencing = answer.json()["conferencing"]
            self.check(
                conferencing["provider"] == "google_meet", f"provider is {conferencing['provider']}"
            )
            self.check(
                conferencing["status"] == "provisioned", f"conferencing is {conferencing['status']}"
            )
            self.ok(f"conferencing provisioned on Google Meet: {conferencing['join_url']}")
            state = self.sandboxes["google_meet"].state
            events = [
                e for e in state.events.values() if not e.deleted and e.conference is not None
            ]
            self.check(len(events) == 1, "no Meet event on the Google sandbox")
            self.check(len(self.sandboxes["zoom"].state.live_meetings()) == before, "Zoom was used")
            self.ok(
                "on the Google sandbox: a calendar event with a Meet conference for"
                f" {GOOGLE_ACCOUNT}"
            )

    async def background_work(self, secret: str) -> None:
        from meetbridge.web.platform_webhooks import verify_signature

        async with self.step("Background work: emails and the platform's webhooks are delivered"):
            summary = await self.background()
            self.say(summary)
            for _ in range(50):  # deliveries are immediate; allow the receiver a moment
                if self.received:
                    break
                await asyncio.sleep(0.05)
            kinds = []
            for headers, body in self.received:
                self.check(
                    verify_signature(
                        secret,
                        headers["meetbridge-timestamp"],
                        body,
                        headers["meetbridge-signature"],
                    ),
                    "a webhook signature does not verify",
                )
                kinds.append(headers["meetbridge-event"])
            self.check("conferencing.provisioned" in kinds, "no conferencing.provisioned webhook")
            self.check("connection.revoked" in kinds, "no connection.revoked webhook")
            counted = ", ".join(f"{k} x{kinds.count(k)}" for k in sorted(set(kinds)))
            self.ok(f"the platform received {len(kinds)} webhooks, signatures verified: {counted}")


def _card(page: str, provider: str) -> str:
    """The Integrations card of ``provider`` (its HTML)."""
    found = re.search(rf'id="provider-{provider}".*?</section>', page, re.S)
    return found[0] if found else ""


def _said(page: str) -> str:
    """What a page told the person (its error message), for a failure report."""
    found = re.search(r'class="flash error"[^>]*>([^<]+)<', page) or re.search(
        r"<h1>([^<]+)</h1>", page
    )
    return f"the page says: {html.unescape(found[1]).strip()}" if found else "no message"


def _start_of(page: str) -> datetime:
    found = re.search(r'name="start" value="([^"]+)"', page)
    if not found:
        raise DemoFailed("booking", "the details page carries no slot time")
    return datetime.fromisoformat(found[1])
