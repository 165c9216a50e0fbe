"""Contract: creating, moving and deleting a booking's meeting."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from meetbridge.providers import Capability, DeleteOutcome, Meeting, MeetingGone, Secret
from meetbridge.testing.conformance.kit import Kit, contract, ref, same_instant


def assert_usable(meeting: Meeting) -> None:
    """What the host stores and sends: a string id, an absolute join URL, secrets wrapped."""
    assert isinstance(meeting, Meeting), f"create_meeting returned {type(meeting).__name__}"
    assert isinstance(meeting.external_id, str) and meeting.external_id, "external_id: a string"
    url = urlsplit(meeting.join_url)
    assert url.scheme in {"http", "https"} and url.netloc, f"join_url {meeting.join_url!r}"
    assert meeting.host_start_url is None or isinstance(meeting.host_start_url, Secret), (
        "host_start_url must be a Secret (it starts the meeting as its host)"
    )
    assert meeting.status in {"provisioned", "pending"}


class MeetingContract:
    @contract()
    async def test_create_returns_a_meeting_the_host_can_store(self, kit: Kit) -> None:
        """A string id, a join URL attendees can open, the host link (if any) as a Secret."""
        credentials = kit.credentials(await kit.account())
        meeting = await kit.create(credentials, kit.request())
        assert_usable(meeting)
        if kit.supports(Capability.PASSCODE):
            assert meeting.passcode, "the provider declares PASSCODE but the meeting has none"
        if meeting.host_start_url is not None:
            assert meeting.host_start_url.reveal() not in repr(meeting)

    @contract(keeps_meetings=True)
    async def test_create_makes_one_meeting_at_the_requested_time(self, kit: Kit) -> None:
        """The provider holds exactly one meeting, at the requested instant and length."""
        credentials = kit.credentials(await kit.account())
        request = kit.request(duration_minutes=45)
        meeting = await kit.create(credentials, request)
        live = await kit.live()
        assert [m.external_id for m in live] == [meeting.external_id], live
        held = live[0]
        assert same_instant(held.start, request.start_utc), (held.start, request.start_utc)
        assert held.duration_minutes == 45

    @contract()
    async def test_update_keeps_the_meeting(self, kit: Kit) -> None:
        """Moving a booking updates its meeting: same id, still usable."""
        credentials = kit.credentials(await kit.account())
        request = kit.request()
        meeting = await kit.create(credentials, request)
        moved = kit.request(
            idempotency_key=request.idempotency_key,
            start=request.start + timedelta(days=1, hours=2),
            duration_minutes=60,
            topic="Conformance check (moved)",
        )
        updated = await kit.update(credentials, meeting, moved)
        assert_usable(updated)
        assert updated.external_id == meeting.external_id

    @contract(keeps_meetings=True)
    async def test_update_moves_the_meeting_at_the_provider(self, kit: Kit) -> None:
        """After an update the provider's meeting has the new start and length."""
        credentials = kit.credentials(await kit.account())
        request = kit.request()
        meeting = await kit.create(credentials, request)
        moved = kit.request(
            idempotency_key=request.idempotency_key,
            start=request.start + timedelta(days=1, hours=2),
            duration_minutes=60,
        )
        await kit.update(credentials, meeting, moved)
        held = await kit.observe(meeting.external_id)
        assert held is not None, "the meeting is gone after an update"
        assert same_instant(held.start, moved.start_utc) and held.duration_minutes == 60
        assert len(await kit.live()) == 1

    @contract(keeps_meetings=True)
    async def test_updating_a_deleted_meeting_is_meeting_gone(self, kit: Kit) -> None:
        """So the host knows to create a new one instead."""
        credentials = kit.credentials(await kit.account())
        request = kit.request()
        meeting = await kit.create(credentials, request)
        await kit.delete(credentials, meeting)
        with pytest.raises(MeetingGone):
            await kit.update(credentials, meeting, request)

    @contract(keeps_meetings=True)
    async def test_delete_removes_the_meeting_at_the_provider(self, kit: Kit) -> None:
        credentials = kit.credentials(await kit.account())
        meeting = await kit.create(credentials, kit.request())
        assert await kit.delete(credentials, meeting) == DeleteOutcome.DELETED
        assert await kit.observe(meeting.external_id) is None
        assert await kit.live() == []

    @contract(keeps_meetings=True)
    async def test_deleting_twice_is_already_gone_the_second_time(self, kit: Kit) -> None:
        """A cancel retried after it succeeded counts as done, never as an error."""
        credentials = kit.credentials(await kit.account())
        meeting = await kit.create(credentials, kit.request())
        assert await kit.delete(credentials, meeting) == DeleteOutcome.DELETED
        assert await kit.delete(credentials, meeting) == DeleteOutcome.ALREADY_GONE

    @contract()
    async def test_delete_is_safe_to_repeat(self, kit: Kit) -> None:
        """Deleting the same meeting twice answers a DeleteOutcome both times, never raising."""
        credentials = kit.credentials(await kit.account())
        meeting = await kit.create(credentials, kit.request())
        first = await kit.delete(credentials, meeting)
        second = await kit.delete(credentials, meeting)
        assert isinstance(first, DeleteOutcome) and isinstance(second, DeleteOutcome)

    @contract(Capability.HOST_JOIN_URL)
    async def test_a_fresh_host_link_is_a_secret_other_than_the_join_url(self, kit: Kit) -> None:
        credentials = kit.credentials(await kit.account())
        meeting = await kit.create(credentials, kit.request())
        link = await kit.call("get_host_join_url", meeting=ref(meeting), credentials=credentials)
        assert isinstance(link, Secret) and link.reveal().startswith(("http://", "https://"))
        assert link.reveal() != meeting.join_url
