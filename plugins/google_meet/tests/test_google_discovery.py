"""The plugin's Calendar requests, and the sandbox's answers, against Google's discovery document.

The document is reference data outside the repository (``../shared/specs/google``); these
tests are skipped, saying why, where it is absent.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from google_meet_testkit import SPECS_DIR, GoogleHarness, meeting_request

from meetbridge_google_meet.client import PRIMARY_CALENDAR
from meetbridge_google_meet.events import event_id_for, insert_body, key_tag, patch_body
from meetbridge_google_meet.info import ENDPOINTS
from meetbridge_google_meet.options import GoogleOptions

DISCOVERY = SPECS_DIR / "google" / "calendar.v3.discovery.json"


@pytest.fixture(scope="module")
def discovery() -> dict[str, Any]:
    if not DISCOVERY.exists():
        pytest.skip(
            f"Calendar discovery document not found at {DISCOVERY} (../shared/specs is"
            " reference data kept outside the repository)"
        )
    return json.loads(DISCOVERY.read_text())


def unknown_fields(
    value: Any, schema: dict[str, Any], schemas: dict[str, Any], path: str = ""
) -> list[str]:
    """Every field of ``value`` that ``schema`` (resolving ``$ref``) does not define."""
    if "$ref" in schema:
        schema = schemas[schema["$ref"]]
    problems: list[str] = []
    if isinstance(value, dict):
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if properties is not None and key in properties:
                problems += unknown_fields(item, properties[key], schemas, f"{path}.{key}")
            elif extra is not None:
                problems += unknown_fields(item, extra, schemas, f"{path}.{key}")
            else:
                problems.append(f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            problems += unknown_fields(item, schema.get("items", {}), schemas, f"{path}[{index}]")
    return problems


def bodies() -> dict[str, dict[str, Any]]:
    options = GoogleOptions(invite_attendees=True)
    request = meeting_request(attendees=("dana@client.example",))
    event_id = event_id_for(request.idempotency_key, "ns")
    return {
        "insert": insert_body(
            request, options, event_id=event_id, tag=key_tag(request.idempotency_key, "ns")
        ),
        "patch": patch_body(request, options),
    }


def test_insert_and_patch_bodies_use_only_event_fields_google_defines(
    discovery: dict[str, Any],
) -> None:
    schemas = discovery["schemas"]
    for name, body in bodies().items():
        assert unknown_fields(body, {"$ref": "Event"}, schemas) == [], name
    insert = bodies()["insert"]
    # The nested parts that make the Meet, spelled as Google spells them.
    create = insert["conferenceData"]["createRequest"]
    assert set(create) <= set(schemas["CreateConferenceRequest"]["properties"])
    assert set(create["conferenceSolutionKey"]) <= set(
        schemas["ConferenceSolutionKey"]["properties"]
    )
    assert "hangoutsMeet" in schemas["ConferenceSolutionKey"]["properties"]["type"]["description"]
    # start/end carry dateTime (RFC 3339, with offset) and an IANA timeZone.
    assert schemas["EventDateTime"]["properties"]["dateTime"]["format"] == "date-time"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", insert["start"]["dateTime"])


def test_the_chosen_event_id_follows_the_rules_in_the_event_id_description(
    discovery: dict[str, Any],
) -> None:
    description = discovery["schemas"]["Event"]["properties"]["id"]["description"]
    letters = re.search(r"lowercase letters a-(\w) and digits 0-9", description)
    lengths = re.search(r"between (\d+) and (\d+) characters", description)
    assert letters and lengths, "the id rules moved in the discovery document"
    allowed = re.compile(rf"[a-{letters.group(1)}0-9]{{{lengths.group(1)},{lengths.group(2)}}}")
    for key in ("booking-1", "x", "a" * 500, "Ünïcode booking ✓"):
        for generation in range(3):
            assert allowed.fullmatch(event_id_for(key, "ns", generation))


def test_query_parameters_and_paths_exist_in_the_events_methods(
    discovery: dict[str, Any],
) -> None:
    methods = discovery["resources"]["events"]["methods"]
    insert, patch, delete, get = (methods[m] for m in ("insert", "patch", "delete", "get"))
    assert (insert["httpMethod"], patch["httpMethod"], delete["httpMethod"]) == (
        "POST",
        "PATCH",
        "DELETE",
    )
    for method, params in (
        (insert, {"conferenceDataVersion", "sendUpdates"}),
        (patch, {"conferenceDataVersion", "sendUpdates"}),
        (delete, {"sendUpdates"}),
    ):
        assert params <= set(method["parameters"])
        assert all(method["parameters"][p]["location"] == "query" for p in params)
    version = insert["parameters"]["conferenceDataVersion"]
    assert int(version["minimum"]) <= 1 <= int(version["maximum"])
    assert set(insert["parameters"]["sendUpdates"]["enum"]) == {"all", "externalOnly", "none"}
    assert "https://www.googleapis.com/auth/calendar.events" in insert["scopes"]
    # The API base and paths the plugin builds are the document's.
    base = discovery["rootUrl"] + discovery["servicePath"]
    assert ENDPOINTS["api_base_url"] + "/" == base
    assert insert["path"] == "calendars/{calendarId}/events"
    one_event = "calendars/{calendarId}/events/{eventId}"
    assert get["path"] == patch["path"] == delete["path"] == one_event
    assert PRIMARY_CALENDAR in insert["parameters"]["calendarId"]["description"]


async def test_the_sandbox_answers_with_event_fields_google_defines(
    discovery: dict[str, Any], google: GoogleHarness, sandbox_url: str, http: httpx.AsyncClient
) -> None:
    creds = google.credentials(await google.connect())
    meeting = await google.call("create_meeting", request=meeting_request(), credentials=creds)
    answer = await http.get(
        f"{sandbox_url}/calendar/v3/calendars/primary/events/{meeting.external_id}",
        headers={"Authorization": f"Bearer {creds.tokens.access_token.reveal()}"},
    )
    event = answer.json()
    assert unknown_fields(event, {"$ref": "Event"}, discovery["schemas"]) == []
    entry_types = {e["entryPointType"] for e in event["conferenceData"]["entryPoints"]}
    assert entry_types <= {"video", "phone", "sip", "more"}
