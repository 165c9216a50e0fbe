"""Fault sequences the campaign can stumble on, replayed one at a time against the sandboxes.

Each one starts with a create whose answer is lost after the provider acted (a timeout, or a
connection dropped mid-answer): the provider has the meeting, meetbridge does not know it.
Whatever happens to the booking next, no meeting may stay at the provider unrecorded, none may
be made twice, and the one kept must be at the booking's time.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from meetbridge.models import MeetingStatus
from tests.chaos.scenario import OWN_ACCOUNT, Scenario

PROVIDERS = ["zoom", "google_meet", "teams"]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_retry_after_a_lost_create_answer_makes_no_second_meeting(
    scenario: Scenario, provider: str
) -> None:
    slug = scenario.meeting_type(provider, OWN_ACCOUNT[provider])
    scenario.fail_next_create(provider, "reset_after_acting")
    booked = await scenario.book(slug, scenario.slot(slug, 3))
    assert booked.conferencing == "pending" and len(scenario.live(provider)) == 1
    await scenario.drain()
    assert len(scenario.live(provider)) == 1
    assert scenario.bookings.result(booked.booking_id).join_url
    assert scenario.broken_invariants() == []


@pytest.mark.parametrize(
    ("provider", "fault"),
    [
        ("zoom", "timeout_after_acting"),
        ("google_meet", "reset_after_acting"),
        ("teams", "timeout_after_acting"),
    ],
)
async def test_cancelling_after_a_lost_create_answer_leaves_nothing_at_the_provider(
    scenario: Scenario, provider: str, fault: str
) -> None:
    slug = scenario.meeting_type(provider, OWN_ACCOUNT[provider])
    scenario.fail_next_create(provider, fault)
    booked = await scenario.book(slug, scenario.slot(slug, 3))
    assert booked.conferencing == "pending" and len(scenario.live(provider)) == 1
    await scenario.bookings.cancel(booked.booking_id, actor="client")
    await scenario.drain()
    assert scenario.live(provider) == []
    assert scenario.broken_invariants() == []


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_rescheduling_after_a_lost_create_answer_moves_the_meeting_that_was_made(
    scenario: Scenario, provider: str
) -> None:
    slug = scenario.meeting_type(provider, OWN_ACCOUNT[provider])
    scenario.fail_next_create(provider, "timeout_after_acting")
    booked = await scenario.book(slug, scenario.slot(slug, 3))
    moved_to = scenario.slot(slug, 4, 5)
    await scenario.bookings.reschedule(booked.booking_id, moved_to, actor="client")
    await scenario.drain()
    [meeting] = scenario.live(provider)
    assert meeting.start == moved_to
    assert scenario.broken_invariants() == []


async def test_an_uninstall_after_a_lost_create_answer_records_the_meeting_as_left(
    scenario: Scenario,
) -> None:
    """Zoe's Zoom made the meeting, the answer was lost, then Zoe removed the app: meetbridge
    cannot look for it any more, so it says so, and the booking gets the organisation's Zoom."""
    slug = scenario.meeting_type("zoom", "zoe@chaos.test")
    scenario.fail_next_create("zoom", "reset_after_acting")
    booked = await scenario.book(slug, scenario.slot(slug, 3))
    headers, body = scenario.stage.sandboxes.zoom.deauthorize("zoe@chaos.test")
    result = await scenario.stage.connections.handle_webhook("zoom", headers, body)
    await scenario.stage.connections.apply_webhook_events("zoom", result.events)
    await scenario.drain()
    rows = scenario.meetings(booked.booking_id)
    assert [m.status for m in rows] == [MeetingStatus.LEFT_AT_PROVIDER, MeetingStatus.PROVISIONED]
    assert rows[1].host_user_external == "zoe@chaos.test"  # on the organisation's account
    assert len(scenario.live("zoom")) == 2
    assert scenario.broken_invariants() == []


async def test_a_reassignment_after_a_lost_create_answer_removes_the_first_hosts_meeting(
    scenario: Scenario,
) -> None:
    both = scenario.meeting_type("zoom", "zoe@chaos.test", "zack@chaos.test")
    only_zoe = scenario.meeting_type("zoom", "zoe@chaos.test")
    scenario.fail_next_create("zoom", "timeout_after_acting")
    booked = await scenario.book(both, scenario.slot(both, 3))  # zoe: never booked, listed first
    assert booked.host_emails == ("zoe@chaos.test",)
    # A time both can do (their hours are in different zones), at which Zoe then gets busy.
    day5 = scenario.stage.clock() + timedelta(days=5)
    later = next(
        s.start
        for s in scenario.bookings.slots(both, day5, day5 + timedelta(days=1))
        if len(s.free_hosts) == 2
    )
    await scenario.book(only_zoe, later, email="other@example.org")  # zoe is busy then
    moved = await scenario.bookings.reschedule(booked.booking_id, later, actor="client")
    assert moved.host_emails == ("zack@chaos.test",)
    await scenario.drain()
    hosts = sorted(m.owner for m in scenario.live("zoom"))
    assert hosts == ["zack@chaos.test", "zoe@chaos.test"]  # one each, nothing left behind
    assert scenario.broken_invariants() == []


async def test_reprovisioning_after_a_lost_answer_and_a_dead_job_makes_no_second_meeting(
    scenario: Scenario,
) -> None:
    slug = scenario.meeting_type("zoom", "zoe@chaos.test")
    scenario.fail_next_create("zoom", "reset_after_acting")
    # Every later look for the meeting fails too, until the job gives up.
    scenario.stage.sandboxes.zoom.faults.fail_next("/v2/users/", "5xx", times=50, method="GET")
    booked = await scenario.book(slug, scenario.slot(slug, 3))
    await scenario.drain()
    assert scenario.bookings.result(booked.booking_id).conferencing == "failed"
    scenario.stage.sandboxes.clear_faults()
    await scenario.bookings.reprovision([booked.booking_id])
    await scenario.drain()
    assert scenario.bookings.result(booked.booking_id).conferencing == "provisioned"
    assert len(scenario.live("zoom")) == 1
    assert scenario.broken_invariants() == []


async def test_a_grant_revoked_just_after_teams_made_the_meeting_records_it(
    scenario: Scenario,
) -> None:
    slug = scenario.meeting_type("teams", "theo@chaos.test")
    # createOrGet makes the meeting; the grant dies before the lobby PATCH that follows.
    scenario.stage.sandboxes.arm("teams", "/v1.0/me/onlineMeetings/", "revoke_grant", "PATCH")
    booked = await scenario.book(slug, scenario.slot(slug, 3))
    await scenario.drain()
    assert len(scenario.live("teams")) == 1
    first = scenario.meetings(booked.booking_id)[0]
    assert first.status == MeetingStatus.LEFT_AT_PROVIDER
    assert scenario.broken_invariants() == []


GOOGLE_EVENT = "/calendar/v3/calendars/primary/events/"  # requests about one event


@pytest.mark.parametrize("fault", ["reset_after_acting", "reset_before", "timeout_after_acting"])
async def test_a_dropped_meet_poll_after_google_made_the_event_makes_no_second_one(
    scenario: Scenario, fault: str
) -> None:
    """Google answers the insert with the conference still pending; the connection drops on
    the poll that follows. The event exists: the retry picks it up, nothing is made twice."""
    slug = scenario.meeting_type("google_meet", "gail@chaos.test")
    scenario.stage.sandboxes.google.conference_pending_reads = 2
    scenario.stage.sandboxes.arm("google_meet", GOOGLE_EVENT, fault, "GET")
    booked = await scenario.book(slug, scenario.slot(slug, 3))
    assert booked.conferencing == "pending" and len(scenario.live("google_meet")) == 1
    await scenario.drain()
    [event] = scenario.live("google_meet")
    assert scenario.bookings.result(booked.booking_id).join_url
    assert [m.external_id for m in scenario.meetings(booked.booking_id)] == [event.external_id]
    assert scenario.broken_invariants() == []


async def test_a_grant_revoked_while_google_makes_the_meet_records_the_event_as_left(
    scenario: Scenario,
) -> None:
    """The event is made, then the grant dies during the conference polling: meetbridge can
    no longer look for it, so it says so (not "failed", which would hide it at Google)."""
    slug = scenario.meeting_type("google_meet", "gail@chaos.test")
    scenario.stage.sandboxes.google.conference_pending_reads = 2
    scenario.stage.sandboxes.arm("google_meet", GOOGLE_EVENT, "revoke_grant", "GET")
    booked = await scenario.book(slug, scenario.slot(slug, 3))
    await scenario.drain()
    assert len(scenario.live("google_meet")) == 1
    first = scenario.meetings(booked.booking_id)[0]
    assert first.status == MeetingStatus.LEFT_AT_PROVIDER
    assert scenario.broken_invariants() == []
