"""Creating, moving and deleting a booking's Meet, as a Google Calendar event.

A create never makes a second event for one booking: the event id is derived from the
booking's idempotency key, so a retry after a lost answer gets 409 and picks up the event
the first attempt made. Meet conferences may be created asynchronously (``pending``); the
create waits for them, a bounded number of polls.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from meetbridge.providers import (
    Credentials,
    DeleteOutcome,
    Meeting,
    MeetingGone,
    MeetingRef,
    MeetingRequest,
    ProviderContext,
    ProviderError,
    ProviderUnavailable,
    WrongCredential,
)
from meetbridge_google_meet.client import PRIMARY_CALENDAR, CalendarClient
from meetbridge_google_meet.events import (
    conference_status,
    create_request,
    event_id_for,
    insert_body,
    is_cancelled,
    is_ours,
    join_url,
    key_tag,
    matches_request,
    meeting_from_event,
    patch_body,
)
from meetbridge_google_meet.info import NAME
from meetbridge_google_meet.options import GoogleOptions

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("meetbridge.google_meet")

# How many fresh ids a booking may walk through when its earlier events were deleted in
# Google Calendar (each deleted id stays taken). Far more than any real booking needs.
MAX_GENERATIONS = 16
GONE = (404, 410)


def load_options(context: ProviderContext) -> GoogleOptions:
    return GoogleOptions.from_settings(context.settings.options, context.settings.client_id)


async def create_meeting(
    context: ProviderContext, request: MeetingRequest, credentials: Credentials
) -> Meeting:
    """Insert the booking's event with a Meet conference, or pick up the one made before."""
    options = load_options(context)
    client = CalendarClient(context, credentials, options)
    tag = key_tag(request.idempotency_key, options.event_id_namespace)
    for generation in range(MAX_GENERATIONS):
        event_id = event_id_for(request.idempotency_key, options.event_id_namespace, generation)
        body = insert_body(request, options, event_id=event_id, tag=tag)
        response = await client.insert_event(PRIMARY_CALENDAR, body, accept=(409,))
        # From here on the event exists at Google: made just now, or (409) by an earlier
        # attempt. Whatever fails next (reading it, bringing it up to date, polling its
        # conference, even a grant revoked meanwhile) the host must be told the meeting may
        # exist, so that it looks for it (the retry gets the 409 and picks it up) instead of
        # taking the create for "nothing made" and making another one, here or elsewhere.
        try:
            if response.status_code != 409:
                event = _event_of(response)
            else:
                existing = await _existing_event(client, event_id, tag)
                if existing is None:
                    continue  # deleted in Google Calendar, or not ours: try the next id
                event = existing
            return await _finish(
                client, event, request, options, credentials, picked_up=response.status_code == 409
            )
        except ConferenceFailed as exc:
            exc.ambiguous = not exc.event_removed
            raise
        except ProviderError as exc:
            exc.ambiguous = True
            raise
    raise ProviderError(
        f"Google Calendar already holds {MAX_GENERATIONS} deleted or foreign events with the ids"
        " meetbridge derives for this booking, so it did not create another one. Cancel and"
        " rebook, or choose another location.",
        provider=NAME,
        provider_code="event_ids_exhausted",
    )


class ConferenceFailed(ProviderError):
    """Google made the event but not its Meet; ``event_removed`` says whether the event was
    deleted again (then nothing is left at Google and the failure is not ambiguous)."""

    def __init__(self, message: str, *, event_removed: bool, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.event_removed = event_removed


def _event_of(response: httpx.Response) -> dict[str, Any]:
    """The event in a 2xx answer; an unreadable body (a proxy's page, a cut answer) is a
    retryable failure like a lost answer."""
    try:
        event = response.json()
    except ValueError:
        event = None
    if not isinstance(event, dict) or "id" not in event:
        raise ProviderUnavailable(
            "Google Calendar answered with something that is not an event; meetbridge retries"
            " automatically (and picks up the event if Google made it).",
            provider=NAME,
            provider_code="unreadable_answer",
        )
    return event


async def _finish(
    client: CalendarClient,
    event: dict[str, Any],
    request: MeetingRequest,
    options: GoogleOptions,
    credentials: Credentials,
    *,
    picked_up: bool,
) -> Meeting:
    """Bring a picked-up event up to date, wait for its Meet, and describe the meeting."""
    if picked_up and not matches_request(event, request):
        # An earlier attempt made it before the booking moved: bring it up to date.
        patched = await client.patch_event(
            PRIMARY_CALENDAR, str(event["id"]), patch_body(request, options)
        )
        event = patched.json()
    event = await _with_ready_conference(client, event, options, delete_on_failure=True)
    return meeting_from_event(
        event, calendar_id=PRIMARY_CALENDAR, account_id=credentials.external_account_id
    )


async def _existing_event(client: CalendarClient, event_id: str, tag: str) -> dict[str, Any] | None:
    """The live event meetbridge made under ``event_id`` for this booking, if there is one."""
    response = await client.get_event(PRIMARY_CALENDAR, event_id, accept=GONE)
    if response.status_code in GONE:
        return None
    event = _event_of(response)
    if is_cancelled(event) or not is_ours(event, tag):
        return None
    return event


async def _with_ready_conference(
    client: CalendarClient,
    event: dict[str, Any],
    options: GoogleOptions,
    *,
    delete_on_failure: bool,
) -> dict[str, Any]:
    """Wait until the event's Meet conference is made; add one if the event has none."""
    event_id = str(event["id"])
    status = conference_status(event)
    if status == "none":
        # The event exists without a conference (made by an attempt whose conference request
        # Google dropped, or the Meet was removed in Google Calendar): ask for one now. A
        # fresh requestId, since Google ignores one that repeats the previous request.
        purpose = f"add-{event.get('sequence', 0)}-{event.get('updated', '')}"
        patched = await client.patch_event(
            PRIMARY_CALENDAR, event_id, {"conferenceData": create_request(event_id, purpose)}
        )
        event = patched.json()
        status = conference_status(event)
    polls = 0
    while status == "pending":
        if polls >= options.conference_poll_attempts:
            raise ProviderUnavailable(
                "Google is still creating the Meet conference for this meeting; meetbridge"
                " checks again shortly and picks up the same calendar event (no duplicate).",
                provider=NAME,
                provider_code="conference_pending",
                retry_after=max(5.0, options.conference_poll_interval_seconds * polls),
                ambiguous=True,
            )
        await asyncio.sleep(options.conference_poll_interval_seconds)
        polls += 1
        event = (await client.get_event(PRIMARY_CALENDAR, event_id)).json()
        if is_cancelled(event):
            raise ProviderUnavailable(
                "The calendar event was deleted in Google Calendar while its Meet was being"
                " created; meetbridge makes a new one on the next attempt.",
                provider=NAME,
                provider_code="deleted_while_pending",
            )
        status = conference_status(event)
    if status == "success" and join_url(event):
        return event
    removed = await _delete_quietly(client, event_id) if delete_on_failure else False
    raise ConferenceFailed(
        "Google made the calendar event but could not create a Google Meet conference for it"
        f" (conference status: {status}). Google Meet may be turned off for this account (a"
        " Google Workspace administrator can do that), or its calendar does not allow Meet"
        " conferences. Check that the account can add Google Meet to events in Google"
        " Calendar, or choose another location.",
        provider=NAME,
        provider_code=f"conference_{status}",
        event_removed=removed,
    )


async def _delete_quietly(client: CalendarClient, event_id: str) -> bool:
    """Remove an event left without a link; a failure here must not hide the real error.
    Whether the event is gone now."""
    try:
        await client.delete_event(PRIMARY_CALENDAR, event_id, accept=GONE)
    except ProviderError as exc:
        log.warning("could not remove Google Calendar event without a Meet link: %s", exc)
        return False
    return True


def _check_owner(meeting: MeetingRef, credentials: Credentials) -> None:
    owner = str(meeting.extra.get("account_id") or "")
    if owner and credentials.external_account_id and owner != credentials.external_account_id:
        raise WrongCredential(
            "This Google Meet meeting lives in another Google account's calendar than the"
            " connection used; use the connection that created it.",
            provider=NAME,
            provider_code="other_account",
        )


async def update_meeting(
    context: ProviderContext,
    meeting: MeetingRef,
    request: MeetingRequest,
    credentials: Credentials,
) -> Meeting:
    """Move or retitle the event; ``MeetingGone`` when it was deleted in Google Calendar."""
    options = load_options(context)
    client = CalendarClient(context, credentials, options)
    _check_owner(meeting, credentials)
    calendar_id = str(meeting.extra.get("calendar_id") or PRIMARY_CALENDAR)
    response = await client.patch_event(
        calendar_id, meeting.external_id, patch_body(request, options), accept=GONE
    )
    event = response.json() if response.status_code not in GONE else None
    if event is None or is_cancelled(event):
        raise MeetingGone(
            "The Google Calendar event of this meeting no longer exists (it was deleted in"
            " Google Calendar); meetbridge creates a new meeting instead.",
            provider=NAME,
            provider_code=str(response.status_code) if event is None else "cancelled",
        )
    event = await _with_ready_conference(client, event, options, delete_on_failure=False)
    return meeting_from_event(
        event, calendar_id=calendar_id, account_id=credentials.external_account_id
    )


async def delete_meeting(
    context: ProviderContext, meeting: MeetingRef, credentials: Credentials
) -> DeleteOutcome:
    """Delete the event (and its Meet); already deleted or unknown counts as done."""
    options = load_options(context)
    client = CalendarClient(context, credentials, options)
    _check_owner(meeting, credentials)
    calendar_id = str(meeting.extra.get("calendar_id") or PRIMARY_CALENDAR)
    response = await client.delete_event(calendar_id, meeting.external_id, accept=GONE)
    if response.status_code in GONE:
        return DeleteOutcome.ALREADY_GONE
    return DeleteOutcome.DELETED
