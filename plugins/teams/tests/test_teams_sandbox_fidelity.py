"""The sandbox behaves like Microsoft where meetbridge could be caught out (raw HTTP, no plugin
in between except to start a sign-in)."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from teams_support import PERSONAL, REDIRECT_URI, WORK, FakeClock, Teams

from meetbridge.testing.server import serve_in_thread
from meetbridge_teams.oauth import unverified_claims
from meetbridge_teams.sandbox import (
    CONTOSO_TENANT_ID,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    PERSONAL_TENANT_ID,
    SandboxState,
    create_app,
)

SCOPE = "openid offline_access User.Read OnlineMeetings.ReadWrite"


def _challenge(verifier: str) -> str:
    return (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )


def _authorize_url(base: str, tenant: str = "organizations", **overrides: str) -> str:
    params = {
        "client_id": DEFAULT_CLIENT_ID,
        "response_type": "code",
        "response_mode": "query",
        "redirect_uri": REDIRECT_URI,
        "scope": SCOPE,
        "state": "st",
        "code_challenge": _challenge("v" * 50),
        "code_challenge_method": "S256",
        **overrides,
    }
    return str(httpx.URL(f"{base}/{tenant}/oauth2/v2.0/authorize", params=params))


async def _code(
    teams: Teams, login: str = WORK, tenant: str = "organizations", **overrides: str
) -> str:
    answer = await teams.sign_in(_authorize_url(teams.url, tenant, **overrides), login)
    assert answer.status_code == 302, answer.text
    return httpx.URL(answer.headers["location"]).params["code"]


async def _token(teams: Teams, tenant: str = "organizations", **form: str) -> httpx.Response:
    body = {"client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET, **form}
    return await teams.http.post(f"{teams.url}/{tenant}/oauth2/v2.0/token", data=body)


async def _redeem(teams: Teams, code: str, verifier: str = "v" * 50, **form: str) -> httpx.Response:
    return await _token(
        teams,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT_URI,
        code_verifier=verifier,
        **form,
    )


def _assert_aad_error(response: httpx.Response, status: int, error: str, code: int) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error
    assert body["error_codes"] == [code]
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    assert "\r\nTrace ID: " in body["error_description"]
    for key in ("trace_id", "correlation_id", "timestamp", "error_uri"):
        assert body[key]


# -- login -----------------------------------------------------------------------------------


async def test_unknown_client_and_unregistered_redirect_are_error_pages_not_redirects(
    teams: Teams,
) -> None:
    unknown = await teams.http.get(_authorize_url(teams.url, client_id="nope"))
    assert unknown.status_code == 400 and "AADSTS700016" in unknown.text
    wrong = await teams.http.get(_authorize_url(teams.url, redirect_uri="https://evil.example/cb"))
    assert wrong.status_code == 400 and "AADSTS50011" in wrong.text
    tenant = await teams.http.get(_authorize_url(teams.url, tenant="no-such-tenant"))
    assert tenant.status_code == 400 and "AADSTS90002" in tenant.text


async def test_bad_response_type_redirects_with_an_error(teams: Teams) -> None:
    answer = await teams.http.get(_authorize_url(teams.url, response_type="token"))
    assert answer.status_code == 302
    assert httpx.URL(answer.headers["location"]).params["error"] == "unsupported_response_type"


async def test_consent_page_shows_accounts_and_permissions(teams: Teams) -> None:
    page = await teams.http.get(_authorize_url(teams.url))
    assert page.status_code == 200
    for text in (
        WORK,
        PERSONAL,
        "Read and create your online meetings",
        "Accept",
        "Cancel",
        "admin approval needed",
    ):
        assert text in page.text


async def test_codes_are_single_use(teams: Teams) -> None:
    code = await _code(teams)
    assert (await _redeem(teams, code)).status_code == 200
    _assert_aad_error(await _redeem(teams, code), 400, "invalid_grant", 54005)


async def test_codes_expire_after_ten_minutes(teams: Teams, clock: FakeClock) -> None:
    code = await _code(teams)
    clock.advance(minutes=10, seconds=1)
    _assert_aad_error(await _redeem(teams, code), 400, "invalid_grant", 70008)


async def test_pkce_is_enforced(teams: Teams) -> None:
    code = await _code(teams)
    _assert_aad_error(await _redeem(teams, code, verifier="w" * 50), 400, "invalid_grant", 501481)
    _assert_aad_error(await _redeem(teams, code, verifier=""), 400, "invalid_grant", 501481)
    assert (await _redeem(teams, code)).status_code == 200  # a failed try does not burn it


async def test_redirect_uri_must_match_the_one_used_to_sign_in(teams: Teams) -> None:
    code = await _code(teams)
    response = await _token(
        teams,
        grant_type="authorization_code",
        code=code,
        redirect_uri="http://localhost:8000/connect/teams/callback",
        code_verifier="v" * 50,
    )
    _assert_aad_error(response, 400, "invalid_grant", 500112)


async def test_client_authentication(teams: Teams) -> None:
    code = await _code(teams)
    _assert_aad_error(
        await _redeem(teams, code, client_secret="wrong"), 401, "invalid_client", 7000215
    )
    basic = base64.b64encode(f"{DEFAULT_CLIENT_ID}:{DEFAULT_CLIENT_SECRET}".encode()).decode()
    answer = await teams.http.post(
        f"{teams.url}/organizations/oauth2/v2.0/token",
        headers={"Authorization": f"Basic {basic}"},
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": "v" * 50,
        },
    )
    assert answer.status_code == 200


async def test_token_response_shape_and_id_token_claims(teams: Teams) -> None:
    body = (await _redeem(teams, await _code(teams))).json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3599 and body["ext_expires_in"] == 3599
    assert "offline_access" not in body["scope"].split()
    claims = unverified_claims(body["id_token"])
    person = teams.state.account_by_login(WORK)
    assert (claims["tid"], claims["oid"], claims["aud"], claims["preferred_username"]) == (
        CONTOSO_TENANT_ID,
        person.id,
        DEFAULT_CLIENT_ID,
        WORK,
    )
    assert claims["iss"] == f"https://login.microsoftonline.com/{CONTOSO_TENANT_ID}/v2.0"


async def test_personal_account_id_token_carries_the_consumer_tenant(teams: Teams) -> None:
    body = (await _redeem(teams, await _code(teams, PERSONAL, tenant="common"))).json()
    assert unverified_claims(body["id_token"])["tid"] == PERSONAL_TENANT_ID
    assert unverified_claims(body["access_token"]) == {}  # opaque, like Microsoft's


async def test_without_offline_access_or_openid_there_is_no_refresh_or_id_token(
    teams: Teams,
) -> None:
    body = (await _redeem(teams, await _code(teams, scope="User.Read"))).json()
    assert "refresh_token" not in body and "id_token" not in body


async def test_every_refresh_issues_a_new_refresh_token_and_the_old_stays_valid(
    teams: Teams,
) -> None:
    first = (await _redeem(teams, await _code(teams))).json()
    second = (
        await _token(teams, grant_type="refresh_token", refresh_token=first["refresh_token"])
    ).json()
    third = await _token(teams, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert second["refresh_token"] != first["refresh_token"]
    assert third.status_code == 200
    assert third.json()["refresh_token"] not in {first["refresh_token"], second["refresh_token"]}
    assert teams.state.refresh_calls == 2


async def test_unknown_refresh_token_and_grant_type(teams: Teams) -> None:
    _assert_aad_error(
        await _token(teams, grant_type="refresh_token", refresh_token="junk"),
        400,
        "invalid_grant",
        9002313,
    )
    _assert_aad_error(
        await _token(teams, grant_type="password"), 400, "unsupported_grant_type", 70003
    )


async def test_cancel_redirects_access_denied(teams: Teams) -> None:
    answer = await teams.sign_in(_authorize_url(teams.url), WORK, decision="cancel")
    params = httpx.URL(answer.headers["location"]).params
    assert (params["error"], params["state"]) == ("access_denied", "st")
    assert params["error_description"].startswith("AADSTS65004")


async def test_a_person_outside_the_named_tenant_cannot_sign_in_there(teams: Teams) -> None:
    answer = await teams.sign_in(_authorize_url(teams.url, tenant="fabrikam.example"), WORK)
    assert answer.status_code == 400 and "AADSTS50020" in answer.text


async def test_only_an_admin_can_grant_admin_consent(teams: Teams) -> None:
    url = f"{teams.url}/organizations/v2.0/adminconsent?" + str(
        httpx.QueryParams(
            {"client_id": DEFAULT_CLIENT_ID, "redirect_uri": REDIRECT_URI, "state": "s"}
        )
    )
    page = await teams.http.get(url)
    answer = await teams.submit(page.text, login="lee@fabrikam.example", decision="accept")
    assert answer.status_code == 400 and "AADSTS90094" in answer.text


# -- Graph -----------------------------------------------------------------------------------


async def _bearer(
    teams: Teams, login: str = WORK, tenant: str = "organizations", scope: str = SCOPE
) -> dict[str, str]:
    body = (await _redeem(teams, await _code(teams, login, tenant, scope=scope))).json()
    return {"Authorization": f"Bearer {body['access_token']}"}


def _assert_graph_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    assert {"date", "request-id", "client-request-id"} <= set(error["innerError"])
    return error


async def test_graph_checks_the_bearer_token(teams: Teams, clock: FakeClock) -> None:
    missing = await teams.http.get(f"{teams.url}/v1.0/me")
    _assert_graph_error(missing, 401, "InvalidAuthenticationToken")
    assert missing.headers["www-authenticate"].startswith("Bearer")
    headers = await _bearer(teams)
    assert (await teams.http.get(f"{teams.url}/v1.0/me", headers=headers)).status_code == 200
    clock.advance(seconds=3600)
    expired = await teams.http.get(f"{teams.url}/v1.0/me", headers=headers)
    assert "expired" in _assert_graph_error(expired, 401, "InvalidAuthenticationToken")["message"]


async def test_me_has_mail_or_only_the_user_principal_name(teams: Teams) -> None:
    me = (
        await teams.http.get(
            f"{teams.url}/v1.0/me", headers=await _bearer(teams, "megan@contoso.example")
        )
    ).json()
    assert me["mail"] is None and me["userPrincipalName"] == "megan@contoso.example"


async def test_calendar_needs_a_calendars_permission_and_tells_teams_support(
    teams: Teams,
) -> None:
    forbidden = await teams.http.get(f"{teams.url}/v1.0/me/calendar", headers=await _bearer(teams))
    _assert_graph_error(forbidden, 403, "ErrorAccessDenied")
    scope = SCOPE + " Calendars.Read"
    work = await teams.http.get(
        f"{teams.url}/v1.0/me/calendar", headers=await _bearer(teams, scope=scope)
    )
    personal = await teams.http.get(
        f"{teams.url}/v1.0/me/calendar", headers=await _bearer(teams, PERSONAL, "common", scope)
    )
    assert "teamsForBusiness" in work.json()["allowedOnlineMeetingProviders"]
    assert "teamsForBusiness" not in personal.json()["allowedOnlineMeetingProviders"]


MEETING = {
    "externalId": "ext-1",
    "subject": "Call",
    "startDateTime": "2026-03-09T14:00:00Z",
    "endDateTime": "2026-03-09T14:30:00Z",
}


async def test_create_or_get_is_201_then_200_and_never_updates(teams: Teams) -> None:
    headers = await _bearer(teams)
    url = f"{teams.url}/v1.0/me/onlineMeetings/createOrGet"
    first = await teams.http.post(url, headers=headers, json=MEETING)
    second = await teams.http.post(url, headers=headers, json={**MEETING, "subject": "Other"})
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert second.json()["subject"] == "Call"
    assert first.json()["startDateTime"] == "2026-03-09T14:00:00.0000000Z"


async def test_create_or_get_accepts_only_its_parameters(teams: Teams) -> None:
    headers = await _bearer(teams)
    url = f"{teams.url}/v1.0/me/onlineMeetings/createOrGet"
    extra = await teams.http.post(
        url, headers=headers, json={**MEETING, "lobbyBypassSettings": {"scope": "organizer"}}
    )
    assert "not a valid parameter" in _assert_graph_error(extra, 400, "BadRequest")["message"]
    missing = await teams.http.post(url, headers=headers, json={"subject": "x"})
    _assert_graph_error(missing, 400, "BadRequest")


async def test_times_need_an_offset(teams: Teams) -> None:
    response = await teams.http.post(
        f"{teams.url}/v1.0/me/onlineMeetings/createOrGet",
        headers=await _bearer(teams),
        json={**MEETING, "startDateTime": "2026-03-09T09:00:00"},
    )
    assert "Edm.DateTimeOffset" in _assert_graph_error(response, 400, "BadRequest")["message"]


async def test_patch_rules_and_delete_then_404(teams: Teams) -> None:
    headers = await _bearer(teams)
    created = (
        await teams.http.post(
            f"{teams.url}/v1.0/me/onlineMeetings",
            headers=headers,
            json={k: v for k, v in MEETING.items() if k != "externalId"},
        )
    ).json()
    url = f"{teams.url}/v1.0/me/onlineMeetings/{created['id']}"

    start_only = await teams.http.patch(
        url, headers=headers, json={"startDateTime": "2026-03-09T15:00:00Z"}
    )
    _assert_graph_error(start_only, 400, "BadRequest")
    backwards = await teams.http.patch(
        url,
        headers=headers,
        json={"startDateTime": "2026-03-09T15:00:00Z", "endDateTime": "2026-03-09T14:00:00Z"},
    )
    _assert_graph_error(backwards, 400, "BadRequest")
    unknown = await teams.http.patch(url, headers=headers, json={"colour": "blue"})
    _assert_graph_error(unknown, 400, "BadRequest")
    both = await teams.http.patch(
        url,
        headers=headers,
        json={
            "startDateTime": "2026-03-09T15:00:00-05:00",
            "endDateTime": "2026-03-09T16:00:00-05:00",
        },
    )
    assert both.status_code == 200
    assert both.json()["startDateTime"] == "2026-03-09T20:00:00.0000000Z"

    assert (await teams.http.delete(url, headers=headers)).status_code == 204
    _assert_graph_error(await teams.http.delete(url, headers=headers), 404, "itemNotFound")
    _assert_graph_error(await teams.http.get(url, headers=headers), 404, "itemNotFound")


async def test_another_persons_meeting_is_not_found(teams: Teams) -> None:
    created = (
        await teams.http.post(
            f"{teams.url}/v1.0/me/onlineMeetings/createOrGet",
            headers=await _bearer(teams),
            json=MEETING,
        )
    ).json()
    other = await _bearer(teams, "megan@contoso.example")
    response = await teams.http.delete(
        f"{teams.url}/v1.0/me/onlineMeetings/{created['id']}", headers=other
    )
    _assert_graph_error(response, 404, "itemNotFound")


async def test_personal_accounts_get_authentication_error_and_events_without_a_link(
    teams: Teams,
) -> None:
    scope = SCOPE + " Calendars.ReadWrite"
    personal = await _bearer(teams, PERSONAL, "common", scope)
    for path in ("/v1.0/me/onlineMeetings", "/v1.0/me/onlineMeetings/createOrGet"):
        response = await teams.http.post(f"{teams.url}{path}", headers=personal, json=MEETING)
        error = _assert_graph_error(response, 400, "AuthenticationError")
        assert error["message"] == "Error authenticating with resource"

    event = {
        "subject": "Call",
        "isOnlineMeeting": True,
        "onlineMeetingProvider": "teamsForBusiness",
        "start": {"dateTime": "2026-03-09T14:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2026-03-09T14:30:00", "timeZone": "UTC"},
    }
    made = await teams.http.post(f"{teams.url}/v1.0/me/events", headers=personal, json=event)
    assert made.status_code == 201
    assert made.json()["onlineMeeting"] is None and made.json()["onlineMeetingUrl"] is None

    work = await _bearer(teams, scope=scope)
    linked = await teams.http.post(f"{teams.url}/v1.0/me/events", headers=work, json=event)
    assert linked.status_code == 201 and linked.json()["onlineMeeting"]["joinUrl"]


async def test_graph_throttling_has_retry_after_seconds(teams: Teams) -> None:
    headers = await _bearer(teams)
    teams.state.faults.fail_next("/v1.0/me", "rate_limit_qps")
    response = await teams.http.get(f"{teams.url}/v1.0/me", headers=headers)
    _assert_graph_error(response, 429, "TooManyRequests")
    assert response.headers["retry-after"] == "7"


async def test_monthly_quota_answers_429_until_the_next_month(teams: Teams) -> None:
    headers = await _bearer(teams)
    teams.state.monthly_meeting_limit = 0
    response = await teams.http.post(
        f"{teams.url}/v1.0/me/onlineMeetings/createOrGet", headers=headers, json=MEETING
    )
    assert "per month" in _assert_graph_error(response, 429, "TooManyRequests")["message"]
    # 2026-03-02 15:00 UTC -> 2026-04-01 00:00 UTC
    assert int(response.headers["retry-after"]) == (29 * 24 + 9) * 3600


# -- faults ----------------------------------------------------------------------------------


async def test_reset_before_acting_drops_the_connection_and_does_nothing(teams: Teams) -> None:
    headers = await _bearer(teams)
    teams.state.faults.fail_next("/v1.0/me/onlineMeetings", "reset_before")
    with pytest.raises(httpx.TransportError):
        await teams.http.post(
            f"{teams.url}/v1.0/me/onlineMeetings/createOrGet", headers=headers, json=MEETING
        )
    assert teams.state.meetings == {}
    assert teams.state.faults.fired == [("reset_before", "/v1.0/me/onlineMeetings/createOrGet")]


async def test_faults_on_the_token_endpoint_use_the_login_error_shape(teams: Teams) -> None:
    teams.state.faults.fail_next("/organizations/oauth2/v2.0/token", "5xx")
    response = await _token(teams, grant_type="refresh_token", refresh_token="x")
    assert response.status_code == 500 and response.json()["error"] == "server_error"


def test_unknown_fault_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        SandboxState(seed=False).faults.fail_next("/", "gremlins")


async def test_works_mounted_under_a_prefix(clock: FakeClock) -> None:
    state = SandboxState(clock=clock)
    outer = Starlette(routes=[Mount("/sandbox/teams", app=create_app(state))])
    with serve_in_thread(outer) as root:
        base = f"{root}/sandbox/teams"
        async with httpx.AsyncClient(timeout=5) as http:
            page = await http.get(_authorize_url(base))
            assert page.status_code == 200
            assert f'action="{base}/organizations/oauth2/v2.0/authorize"' in page.text
            teams = Teams(None, state, base, http, clock)  # type: ignore[arg-type]
            code = await _code(teams)
            tokens = (await _redeem(teams, code)).json()
            headers = {"Authorization": f"Bearer {tokens['access_token']}"}
            made = await http.post(
                f"{base}/v1.0/me/onlineMeetings/createOrGet", headers=headers, json=MEETING
            )
            assert made.status_code == 201
            join = made.json()["joinWebUrl"]
            assert join.startswith(f"{base}/l/meetup-join/")
            assert (await http.get(join)).status_code == 200
            teams.state.faults.fail_next("/v1.0/me", "503_retry_after")
            assert (await http.get(f"{base}/v1.0/me", headers=headers)).status_code == 503


def test_meeting_ids_carry_the_organizer_like_graph_ids() -> None:
    state = SandboxState()
    person = state.account_by_login(WORK)
    meeting = state.new_meeting(
        person,
        DEFAULT_CLIENT_ID,
        subject="x",
        start=datetime(2026, 3, 9, tzinfo=UTC),
        end=datetime(2026, 3, 9, 1, tzinfo=UTC),
        external_id=None,
        base_url="http://sandbox",
    )
    decoded = base64.b64decode(meeting.id + "=" * (-len(meeting.id) % 4)).decode()
    assert decoded.startswith(f"1*{person.id}*0**19:meeting_")
    assert json.loads(httpx.URL(meeting.join_web_url).params["context"]) == {
        "Tid": person.tenant_id,
        "Oid": person.id,
    }


async def test_revoke_grant_fault_on_the_token_endpoint_kills_the_refresh(teams: Teams) -> None:
    first = (await _redeem(teams, await _code(teams))).json()
    teams.state.faults.fail_next("/organizations/oauth2/v2.0/token", "revoke_grant")
    response = await _token(teams, grant_type="refresh_token", refresh_token=first["refresh_token"])
    _assert_aad_error(response, 400, "invalid_grant", 50173)
    me = await teams.http.get(
        f"{teams.url}/v1.0/me", headers={"Authorization": f"Bearer {first['access_token']}"}
    )
    _assert_graph_error(me, 401, "InvalidAuthenticationToken")
