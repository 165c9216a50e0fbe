"""The secrets scan finds a secret wherever it is planted, and says where.

The campaign's scan (tests/chaos/test_campaign.py) passing means nothing unless it can fail:
these tests put real tokens issued by the sandboxes in a log line, a traceback, a database
column, an email to an attendee and an attendee's page, and expect each to be reported.
"""

from __future__ import annotations

import logging

from sqlalchemy import select, text, update

from meetbridge.models import Connection, Job, Meeting, MeetingStatus
from tests.chaos import secrets
from tests.chaos.scenario import OWN_ACCOUNT, Scenario


def _tokens(scenario: Scenario) -> tuple[str, str]:
    """A live Zoom access token and a Google refresh token the sandboxes issued."""
    issued = scenario.stage.ledger.secrets()
    zoom = next(s.value for s in issued if s.kind == "zoom access token")
    google = next(s.value for s in issued if s.kind == "google_meet refresh token")
    return zoom, google


async def _scan(scenario: Scenario, capture: secrets.LogCapture) -> secrets.SecretScan:
    scan = await secrets.scan_stage(scenario.stage, scenario.stage.ledger)
    secrets.scan_logs(capture, scenario.stage.ledger, scan)
    return scan


async def test_a_clean_stage_has_no_secret_in_plaintext(scenario: Scenario) -> None:
    capture = secrets.LogCapture()
    with capture.attached():
        slug = scenario.meeting_type("zoom", OWN_ACCOUNT["zoom"])
        await scenario.book(slug, scenario.slot(slug, 3))
        await scenario.drain()
        scan = await _scan(scenario, capture)
    assert scan.findings == [], scan.check().detail
    assert scan.rows and scan.log_records and scan.messages and scan.pages > 5
    assert scan.check().ok and scan.check().name.startswith("secrets found in plaintext")


async def test_the_scan_reports_a_token_in_a_log_line_and_in_a_traceback(
    scenario: Scenario,
) -> None:
    zoom_token, google_refresh = _tokens(scenario)
    capture = secrets.LogCapture()
    with capture.attached():
        logging.getLogger("meetbridge.careless").debug("refreshing with %s", zoom_token[:24])
        try:
            raise RuntimeError(f"token endpoint said no to {google_refresh}")
        except RuntimeError:
            logging.getLogger("meetbridge.jobs").exception("job failed")
        scan = await _scan(scenario, capture)
    found = {(f.where, f.kind) for f in scan.findings}
    assert ("log record of logger 'meetbridge.careless' (DEBUG)", "zoom access token") in found
    assert ("log record of logger 'meetbridge.jobs' (ERROR)", "google_meet refresh token") in found
    assert not scan.check().ok and scan.check().value == len(found)


async def test_the_scan_reports_a_token_in_a_database_column(scenario: Scenario) -> None:
    zoom_token, google_refresh = _tokens(scenario)
    services = scenario.stage.services
    with services.sessions() as session, session.begin():
        conn_id = session.scalars(select(Connection.id)).first()
        session.execute(
            update(Connection)
            .where(Connection.id == conn_id)
            .values(last_error=f"refresh failed for {google_refresh}")
        )
        session.add(Job(kind="planted", payload={"access_token": zoom_token}))
    with services.engine.begin() as conn:  # straight SQL: the scan does not go through models
        conn.execute(text("UPDATE organizations SET name = :n"), {"n": f"Acme {zoom_token}"})
    scan = await _scan(scenario, secrets.LogCapture())
    wheres = {f.where.split(" (row")[0] for f in scan.findings}
    assert {"connections.last_error", "jobs.payload", "organizations.name"} <= wheres
    # The error message is reported as such too, and (SQLite) the raw database file.
    assert any(w.startswith("connections.last_error of") for w in wheres)
    if services.engine.dialect.name == "sqlite":
        assert any(w.startswith("SQLite file") for w in wheres)


async def test_the_scan_reports_a_start_link_given_to_an_attendee(scenario: Scenario) -> None:
    """A Zoom start link stored as the join link reaches the attendee's email, manage page
    and the API: each place is reported."""
    slug = scenario.meeting_type("zoom", OWN_ACCOUNT["zoom"])
    booked = await scenario.book(slug, scenario.slot(slug, 3))
    zaks = [s.value for s in scenario.stage.ledger.secrets() if "start link" in s.kind]
    assert zaks, "creating a Zoom meeting issues a start link"
    start_link = f"{scenario.stage.sandboxes.urls['zoom']}/s/1?zak={zaks[-1]}"
    services = scenario.stage.services
    with services.sessions() as session, session.begin():
        session.execute(
            update(Meeting)
            .where(Meeting.booking_id == booked.booking_id)
            .where(Meeting.status == MeetingStatus.PROVISIONED)
            .values(join_url=start_link)
        )
    scan = await _scan(scenario, secrets.LogCapture())
    wheres = " | ".join(str(f) for f in scan.findings)
    assert "meetings.join_url" in wheres
    assert f"page GET /manage/{booked.uid}?token=…" in wheres
    assert f"page GET /api/v1/bookings/{booked.uid}" in wheres
    assert "zoom start link token (zak)" in wheres


async def test_a_planted_start_link_in_an_email_to_an_attendee_is_reported(
    scenario: Scenario,
) -> None:
    from meetbridge.models import OutboundMessage

    slug = scenario.meeting_type("zoom", OWN_ACCOUNT["zoom"])
    booked = await scenario.book(slug, scenario.slot(slug, 3))
    services = scenario.stage.services
    with services.sessions() as session, session.begin():
        message = session.scalars(
            select(OutboundMessage).where(OutboundMessage.recipient == "casey@example.org")
        ).first()
        assert message is not None
        # A link whose token was rotated away is still a start link: caught by its shape.
        message.body_html += '<a href="https://zoom.example/s/851?zak=expired">Start</a>'
        message_id = message.id
    scan = await _scan(scenario, secrets.LogCapture())
    assert any(
        f.where.startswith(f"outbox message {message_id} ") and "start link" in f.kind
        for f in scan.findings
    ), scan.findings
    assert booked.booking_id
