"""Jitsi meetings: unguessable rooms on the configured server, through a real plugin host."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from meetbridge.plugins import PluginHost
from meetbridge.providers import (
    AuthKind,
    DeleteOutcome,
    MeetingGone,
    MeetingRef,
    MeetingRequest,
    ProviderError,
)

pytest.importorskip("meetbridge_jitsi", reason="meetbridge-jitsi is not installed")

ROOM_URL = re.compile(r"^https://meet\.jit\.si/meetbridge-[0-9a-f]{32}$")


def _request(**overrides: Any) -> MeetingRequest:
    values: dict[str, Any] = {
        "idempotency_key": "mb-booking-1",
        "topic": "Intro call with Sam Smith",
        "start": datetime(2026, 3, 9, 14, 0, tzinfo=UTC),
        "duration_minutes": 30,
        "timezone": "America/New_York",
    }
    values.update(overrides)
    return MeetingRequest(**values)


async def _create(host: PluginHost, context: Any, **overrides: Any) -> Any:
    return await host.call(
        "create_meeting", "jitsi", context=context, request=_request(**overrides), credentials=None
    )


def test_jitsi_needs_no_account_and_declares_no_capabilities(jitsi_host: PluginHost) -> None:
    info = jitsi_host.provider("jitsi")
    assert info.auth_kind == AuthKind.NONE and info.capabilities == frozenset()
    assert not jitsi_host.implements("connect", "jitsi")
    assert not jitsi_host.implements("refresh_credentials", "jitsi")


async def test_the_default_server_is_meet_jit_si(jitsi_host: PluginHost, jitsi_context) -> None:
    meeting = await _create(jitsi_host, jitsi_context())
    assert ROOM_URL.match(meeting.join_url), meeting.join_url
    assert meeting.join_url.endswith("/" + meeting.external_id)
    assert meeting.host_start_url is None and meeting.passcode == ""


async def test_rooms_are_unguessable_and_never_reuse_booking_details(
    jitsi_host: PluginHost, jitsi_context
) -> None:
    context = jitsi_context()
    rooms = {(await _create(jitsi_host, context)).external_id for _ in range(200)}
    assert len(rooms) == 200  # same booking, same topic: still a new random room each time
    for room in rooms:
        assert re.fullmatch(r"meetbridge-[0-9a-f]{32}", room)  # 128 random bits
        assert "sam" not in room.lower() and "booking" not in room


async def test_the_server_and_prefix_come_from_the_settings(
    jitsi_host: PluginHost, jitsi_context
) -> None:
    context = jitsi_context(api_base_url="https://jitsi.example.org/", room_prefix="acme")
    meeting = await _create(jitsi_host, context)
    assert re.fullmatch(r"https://jitsi\.example\.org/acme-[0-9a-f]{32}", meeting.join_url)


@pytest.mark.parametrize(
    ("setting", "value", "named"),
    [
        ("api_base_url", "jitsi.example.org", "MEETBRIDGE_PROVIDERS__JITSI__API_BASE_URL"),
        ("api_base_url", "https://jitsi.example.org/?x=1", "API_BASE_URL"),
        ("room_prefix", "my rooms", "OPTIONS__ROOM_PREFIX"),
    ],
)
async def test_a_bad_setting_is_a_clear_error_naming_it(
    jitsi_host: PluginHost, jitsi_context, setting: str, value: str, named: str
) -> None:
    with pytest.raises(ProviderError) as failure:
        await _create(jitsi_host, jitsi_context(**{setting: value}))
    assert named in str(failure.value) and "Jitsi" in str(failure.value)


async def test_meeting_type_settings_become_jitsi_url_config(
    jitsi_host: PluginHost, jitsi_context
) -> None:
    settings = {"start_audio_muted": True, "prejoin_page": False, "waiting_room": True}
    meeting = await _create(jitsi_host, jitsi_context(), settings=settings)
    room_url, fragment = meeting.join_url.split("#")
    assert ROOM_URL.match(room_url)
    assert fragment == "config.startWithAudioMuted=true&config.prejoinConfig.enabled=false"
    with pytest.raises(ProviderError, match="start_video_muted"):
        await _create(jitsi_host, jitsi_context(), settings={"start_video_muted": "yes"})


async def test_moving_a_meeting_keeps_the_room_attendees_have(
    jitsi_host: PluginHost, jitsi_context
) -> None:
    meeting = await _create(jitsi_host, jitsi_context(), settings={"start_audio_muted": True})
    # The operator moved to another server since: the booked room stays where it was.
    later = jitsi_context(api_base_url="https://jitsi.example.org")
    moved = await jitsi_host.call(
        "update_meeting",
        "jitsi",
        context=later,
        meeting=MeetingRef(external_id=meeting.external_id, join_url=meeting.join_url),
        request=_request(start=datetime(2026, 3, 10, 9, 0, tzinfo=UTC)),
        credentials=None,
    )
    assert moved.external_id == meeting.external_id
    assert moved.join_url == meeting.join_url.split("#")[0]  # no settings now: no fragment
    with pytest.raises(MeetingGone, match="not a Jitsi room made by meetbridge"):
        await jitsi_host.call(
            "update_meeting",
            "jitsi",
            context=later,
            meeting=MeetingRef(external_id="../admin"),
            request=_request(),
            credentials=None,
        )


async def test_delete_is_done_at_once_and_twice(jitsi_host: PluginHost, jitsi_context) -> None:
    meeting = await _create(jitsi_host, jitsi_context())
    ref = MeetingRef(external_id=meeting.external_id, join_url=meeting.join_url)
    for _ in range(2):
        outcome = await jitsi_host.call(
            "delete_meeting", "jitsi", context=jitsi_context(), meeting=ref, credentials=None
        )
        assert outcome == DeleteOutcome.DELETED


async def test_a_link_opens_its_room_on_the_sandbox_server(
    jitsi_host: PluginHost, jitsi_context, provider_sandbox: Any
) -> None:
    sandbox = provider_sandbox("jitsi")  # found through ProviderInfo.sandbox_app
    meeting = await _create(
        jitsi_host, jitsi_context(**sandbox.endpoints), settings={"start_video_muted": True}
    )
    assert meeting.join_url.startswith(sandbox.url + "/")
    async with httpx.AsyncClient() as http:
        page = await http.get(meeting.join_url)
        missing = await http.get(f"{sandbox.url}/not%20a%20room")
    assert page.status_code == 200 and meeting.external_id in page.text
    assert sandbox.state.opened == [meeting.external_id]  # the fragment never reaches it
    assert missing.status_code == 404
