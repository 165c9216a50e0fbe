"""Request bodies (and the sandbox's answers) checked against the Graph specs in ../shared/specs.

The specs are reference data outside the repository; without them these tests are skipped.
``createOrGet`` is not among the spec's paths (it is an action on the onlineMeetings
collection); its parameters are checked against the onlineMeeting schema they come from.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from teams_support import PERSONAL, WORK, Teams, meeting_request

from meetbridge_teams import meetings, oauth
from meetbridge_teams.client import PERSONAL_ACCOUNT_MESSAGE
from meetbridge_teams.plugin import INFO
from meetbridge_teams.sandbox import DEFAULT_CLIENT_ID
from meetbridge_teams.sandbox import errors as sandbox_errors
from meetbridge_teams.sandbox.online_meetings import meeting_json

SPECS = Path(__file__).resolve().parents[3] / ".." / "shared" / "specs" / "msgraph"
OPENAPI = SPECS / "derived-graph-meetings-subset.openapi.json"
SCHEMAS = SPECS / "derived-onlinemeeting-event-user-schemas.json"

pytestmark = pytest.mark.skipif(
    not (OPENAPI.exists() and SCHEMAS.exists()),
    reason=f"Graph specs not found at {SPECS} (reference data kept outside the repository)",
)


@cache
def openapi() -> dict[str, Any]:
    return json.loads(OPENAPI.read_text())


@cache
def schemas() -> dict[str, Any]:
    return json.loads(SCHEMAS.read_text())["components"]["schemas"]


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = schemas()[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def properties(name: str) -> dict[str, Any]:
    """Every property of a schema, through its allOf chain (entity -> base -> type)."""
    return _properties({"$ref": f"#/components/schemas/{name}"})


def _properties(schema: dict[str, Any]) -> dict[str, Any]:
    schema = _resolve(schema)
    out: dict[str, Any] = {}
    for part in schema.get("allOf", []):
        out.update(_properties(part))
    out.update(schema.get("properties", {}))
    return out


def problems(value: Any, schema: dict[str, Any], where: str) -> list[str]:
    """Differences between ``value`` and ``schema``: unknown properties, types, enums, formats."""
    if value is None:  # Graph properties are nullable
        return []
    if "$ref" in schema:
        ref = schema["$ref"].rsplit("/", 1)[1]
        target = _resolve(schema)
        if "allOf" in target or target.get("type") == "object":
            return problems(value, {"type": "object", "properties": properties(ref)}, where)
        return problems(value, target, where)
    found: list[str] = []
    kind = schema.get("type")
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{where}: {value!r} not in {schema['enum']}")
    if kind == "object":
        if not isinstance(value, dict):
            return [f"{where}: expected an object, got {value!r}"]
        known = schema.get("properties", {})
        for key, item in value.items():
            if key.startswith("@odata."):
                continue
            if key not in known:
                found.append(f"{where}.{key}: not a property of the schema")
            elif "x-navigation" not in known[key]:
                found.extend(problems(item, known[key], f"{where}.{key}"))
    elif kind == "array":
        if not isinstance(value, list):
            return [f"{where}: expected an array"]
        for i, item in enumerate(value):
            found.extend(problems(item, schema.get("items", {}), f"{where}[{i}]"))
    elif kind == "string":
        if not isinstance(value, str):
            found.append(f"{where}: expected a string, got {value!r}")
        elif schema.get("format") == "date-time":
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                found.append(f"{where}: {value!r} is not a date-time")
            else:
                if parsed.tzinfo is None:
                    found.append(f"{where}: {value!r} has no offset (Edm.DateTimeOffset)")
    elif kind == "boolean" and not isinstance(value, bool):
        found.append(f"{where}: expected a boolean, got {value!r}")
    return found


def online_meeting(value: dict[str, Any]) -> list[str]:
    return problems(value, {"$ref": "#/components/schemas/microsoft.graph.onlineMeeting"}, "body")


REQUESTS = [
    meeting_request(),
    meeting_request(
        start=datetime(2026, 11, 1, 5, 30, tzinfo=UTC),
        duration_minutes=90,
        settings={
            "lobby_bypass_scope": "organizationExcludingGuests",
            "dial_in_bypass_lobby": True,
        },
    ),
]


@pytest.mark.parametrize("request_", REQUESTS)
def test_create_or_get_body_is_made_of_online_meeting_properties(request_: Any) -> None:
    body = meetings.create_or_get_body(request_)
    assert online_meeting(body) == []
    assert set(body) <= meetings.CREATE_OR_GET_PARAMETERS
    assert set(meetings.CREATE_OR_GET_PARAMETERS) <= set(
        properties("microsoft.graph.onlineMeeting")
    )


@pytest.mark.parametrize("request_", REQUESTS)
def test_patch_bodies_match_the_online_meeting_schema(request_: Any) -> None:
    assert online_meeting(meetings.update_body(request_)) == []
    assert online_meeting(meetings.differences({}, request_)) == []


def test_default_lobby_scope_is_a_lobby_bypass_scope_of_the_spec() -> None:
    allowed = schemas()["microsoft.graph.lobbyBypassScope"]["enum"]
    assert meetings.DEFAULT_LOBBY_SCOPE in allowed
    assert set(allowed) >= meetings.LOBBY_SCOPES


def test_the_paths_the_plugin_calls_exist_with_the_methods_and_permission_it_uses() -> None:
    paths = openapi()["paths"]
    assert "get" in paths["/me"]
    item = paths["/me/onlineMeetings/{onlineMeeting-id}"]
    for method in ("patch", "delete"):
        assert item[method]["security"][0]["delegated"] == ["OnlineMeetings.ReadWrite"]
        assert item[method]["x-personal-microsoft-account"] is False
    assert "204" in item["delete"]["responses"]
    assert "200" in item["patch"]["responses"]
    create = paths["/me/onlineMeetings"]["post"]
    assert create["security"][0]["delegated"] == ["OnlineMeetings.ReadWrite"]
    assert openapi()["servers"][0]["url"] == "https://graph.microsoft.com/v1.0"
    assert INFO.endpoints["api_base_url"] == openapi()["servers"][0]["url"]


def test_calendar_needs_a_permission_meetbridge_does_not_request() -> None:
    # Why the plugin reads /me/calendar only when a Calendars permission was granted.
    needed = set(openapi()["paths"]["/me/calendar"]["get"]["security"][0]["delegated"])
    assert needed.isdisjoint(oauth.REQUESTED_SCOPES)
    providers = schemas()["microsoft.graph.onlineMeetingProviderType"]["enum"]
    assert "teamsForBusiness" in providers


def test_personal_accounts_are_unsupported_for_online_meetings_in_the_spec() -> None:
    assert openapi()["paths"]["/me/onlineMeetings"]["post"]["x-personal-microsoft-account"] is False
    assert "personal Microsoft accounts" in PERSONAL_ACCOUNT_MESSAGE


async def test_sandbox_answers_match_the_schemas(teams: Teams) -> None:
    account = await teams.connect(WORK)
    meeting = await teams.call(
        "create_meeting", request=meeting_request(), credentials=teams.credentials(account)
    )
    stored = teams.state.meetings[meeting.external_id]
    assert online_meeting(meeting_json(stored, teams.state)) == []

    headers = {"Authorization": f"Bearer {account.tokens.access_token.reveal()}"}
    me = (await teams.http.get(f"{teams.url}/v1.0/me", headers=headers)).json()
    assert problems(me, {"$ref": "#/components/schemas/microsoft.graph.user"}, "me") == []

    person = teams.state.account_by_login(PERSONAL)
    body = teams.state.issue_tokens(
        person, DEFAULT_CLIENT_ID, ("Calendars.Read", "User.Read"), tenant_path="common"
    )
    calendar = (
        await teams.http.get(
            f"{teams.url}/v1.0/me/calendar",
            headers={"Authorization": f"Bearer {body['access_token']}"},
        )
    ).json()
    assert (
        problems(calendar, {"$ref": "#/components/schemas/microsoft.graph.calendar"}, "calendar")
        == []
    )


def test_sandbox_graph_errors_have_the_odata_error_shape(state: Any) -> None:
    error_schema = openapi()["components"]["schemas"]["odata.error"]
    body = sandbox_errors.graph_body("itemNotFound", "Not found.", state)
    assert set(error_schema["required"]) <= set(body)
    inner = error_schema["properties"]["error"]
    assert set(inner["required"]) <= set(body["error"])
    assert set(body["error"]) <= set(inner["properties"])
