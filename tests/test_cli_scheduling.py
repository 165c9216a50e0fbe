"""The scheduling commands on a real database: meeting types, availability, bookings, jobs."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from click.testing import CliRunner

from meetbridge.cli import main
from meetbridge.models import JobStatus
from meetbridge.providers import ProviderUnavailable
from tests.world import TUE_9, TUE_10, World


@pytest.fixture
def cli(world: World, meetbridge_database_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    settings = world.services.settings
    monkeypatch.setenv("MEETBRIDGE_DATABASE_URL", meetbridge_database_url)
    monkeypatch.setenv("MEETBRIDGE_SECRET_KEYS", settings.secret_keys[0].get_secret_value())
    monkeypatch.setenv("MEETBRIDGE_DATA_DIR", str(settings.data_dir))

    def run(*args: str, code: int = 0) -> str:
        # In a thread of its own, like a separate process: commands run their own event loop.
        with ThreadPoolExecutor(1) as pool:
            result = pool.submit(CliRunner().invoke, main, list(args)).result()
        assert result.exit_code == code, result.output
        return result.output

    return run


def test_meeting_types_create_list_and_examples(cli: Any) -> None:
    out = cli(
        "meeting-types",
        "create",
        "--name",
        "Intro call",
        "--duration",
        "20",
        "--host",
        "ann@acme.test",
        "--location",
        "zoom",
    )
    assert "/book/intro-call" in out
    out = cli(
        "meeting-types",
        "create",
        "--name",
        "Bad",
        "--duration",
        "20",
        "--host",
        "ann@acme.test",
        "--location",
        "webex",
        code=1,
    )
    assert "Unknown location 'webex'" in out and "google_meet, jitsi, teams, zoom" in out
    cli("meeting-types", "examples", "--host", "ann@acme.test", "--host", "bob@acme.test")
    rows = {r["slug"]: r for r in json.loads(cli("meeting-types", "list", "--json"))}
    assert rows["intro-call"]["location"] == ["zoom"]
    assert rows["candidate-interview"]["assignment"] == "round_robin"
    assert rows["tutor-integration"]["hosts"] == ["ann@acme.test", "bob@acme.test"]


def test_availability_set_and_show(cli: Any) -> None:
    cli("availability", "set", "ann@acme.test", "mon-thu 08:00-12:00; fri 13:00-15:00")
    out = cli("availability", "show", "ann@acme.test")
    assert "Mon 08:00-12:00" in out and "Fri 13:00-15:00" in out and "America/New_York" in out
    out = cli("availability", "set", "ann@acme.test", "mon 9-5", code=1)
    assert "Cannot read" in out


async def test_bookings_list_show_explain_and_cancel(world: World, cli: Any) -> None:
    await world.connect("ann", "google_meet")
    video = await world.book(world.meeting_type(location="zoom"), TUE_9)
    phone = await world.book(
        world.meeting_type(name="Phone", location="phone", location_value="+1 555 0100"),
        TUE_10,
        email="p@client.test",
    )
    rows = json.loads(cli("bookings", "list", "--json"))
    assert {r["booking_id"] for r in rows} == {video.booking_id, phone.booking_id}
    assert all(r["manage_token"] is None for r in rows)
    out = cli("bookings", "explain", str(video.booking_id))
    assert "ann@acme.test has not connected zoom" in out
    assert "-> google_meet of ann@acme.test" in out
    data = json.loads(cli("bookings", "explain", str(video.booking_id), "--json"))
    assert data["meetings"][0]["provider"] == "google_meet"
    out = cli("bookings", "cancel", str(phone.booking_id), "--reason", "client asked")
    assert "is cancelled" in out
    assert "no booking 999" in cli("bookings", "show", "999", code=1).lower()


async def test_jobs_list_and_retry_a_dead_job(world: World, cli: Any) -> None:
    await world.connect("ann", "zoom")
    world.fakes["zoom"].failures.append(("create", ProviderUnavailable("503")))
    await world.book(world.meeting_type(location="zoom"))
    [job] = world.jobs("sync_conferencing")
    with world.services.sessions() as session, session.begin():
        from meetbridge.models import Job

        session.get(Job, job.id).status = JobStatus.DEAD
    rows = json.loads(cli("jobs", "list", "--status", "dead", "--json"))
    assert [r["id"] for r in rows] == [job.id] and rows[0]["last_error"] == "503"
    assert "queued again" in cli("jobs", "retry", str(job.id))
    assert world.jobs("sync_conferencing")[0].status == JobStatus.QUEUED
    assert "not dead" in cli("jobs", "retry", str(job.id), code=1)


def test_commands_refuse_an_unmigrated_database(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEETBRIDGE_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    monkeypatch.setenv("MEETBRIDGE_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(main, ["bookings", "list"])
    assert result.exit_code == 1 and "meetbridge db upgrade" in result.output
