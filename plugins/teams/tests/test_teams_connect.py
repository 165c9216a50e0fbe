"""Connecting over real HTTP against the sandbox: work accounts in, personal accounts and
unconsented organisations out with a message that says what to do."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest
from teams_support import (
    FABRIKAM_ADMIN,
    PERSONAL,
    REDIRECT_URI,
    UNCONSENTED,
    WORK,
    WORK_NO_MAIL,
    Teams,
)

from meetbridge.providers import ConnectFailed, Secret, UnsupportedAccount
from meetbridge_teams.oauth import explain_authorization_error
from meetbridge_teams.sandbox import CONTOSO_TENANT_ID, FABRIKAM_TENANT_ID


async def test_connect_work_account_returns_graph_id_email_tenant_and_rotating_tokens(
    teams: Teams,
) -> None:
    account = await teams.connect(WORK)

    person = teams.state.account_by_login(WORK)
    assert account.external_account_id == person.id
    assert account.email == WORK
    assert account.organization_id == CONTOSO_TENANT_ID
    assert account.account_type == "work"
    assert account.display_name == "Adele Vance"
    assert account.tokens.refresh_token is not None
    assert account.tokens.expires_at == teams.clock() + teams.state.access_token_lifetime
    assert {"User.Read", "OnlineMeetings.ReadWrite"} <= set(account.tokens.scope)
    assert "id_token" not in account.tokens.extra  # nothing more than needed is stored


async def test_connect_uses_user_principal_name_when_mail_is_null(teams: Teams) -> None:
    account = await teams.connect(WORK_NO_MAIL)
    assert account.email == WORK_NO_MAIL


async def test_personal_account_is_refused_with_what_to_use_instead(teams: Teams) -> None:
    # Under "organizations" Microsoft itself refuses personal accounts; with "common" they
    # get through sign-in, and the plugin must catch them before anything is stored.
    with pytest.raises(UnsupportedAccount) as caught:
        await teams.connect(PERSONAL, tenant="common")

    message = str(caught.value)
    assert "personal Microsoft account" in message
    assert "cannot host Microsoft Teams meetings" in message
    assert "work or school account" in message
    assert "Zoom or Google Meet" in message
    assert caught.value.provider_code == "personal_microsoft_account"


async def test_personal_account_cannot_even_sign_in_under_organizations(teams: Teams) -> None:
    url, _, _ = await teams.start()  # default tenant: organizations
    answer = await teams.sign_in(url, PERSONAL)
    assert answer.status_code == 400
    assert "personal account" in answer.text
    assert "work or school account" in answer.text


async def test_unconsented_organisation_redirects_with_aadsts65001_and_we_explain_it(
    teams: Teams,
) -> None:
    url, state, _ = await teams.start()
    answer = await teams.sign_in(url, UNCONSENTED)
    assert answer.status_code == 302
    back = answer.headers["location"]
    assert back.startswith(REDIRECT_URI)
    params = httpx.URL(back).params
    assert params["state"] == state
    assert params["error"] == "consent_required"
    assert params["error_description"].startswith("AADSTS65001")

    message = explain_authorization_error(
        params["error"], params["error_description"], settings=teams.context().settings
    )
    assert "administrator" in message
    assert "Grant admin consent" in message
    assert f"{teams.url}/organizations/v2.0/adminconsent?client_id=" in message


async def test_admin_consent_error_from_token_endpoint_is_connect_failed_for_the_admin(
    teams: Teams,
) -> None:
    teams.state.tenants[FABRIKAM_TENANT_ID].consent_failure = "token"
    with pytest.raises(ConnectFailed) as caught:
        await teams.connect(UNCONSENTED)
    assert caught.value.provider_code == "AADSTS65001"
    assert "administrator" in str(caught.value)
    assert "/v2.0/adminconsent?" in str(caught.value)


async def test_after_admin_consent_the_same_person_connects(teams: Teams) -> None:
    consent_url = f"{teams.url}/organizations/v2.0/adminconsent?" + (
        f"client_id={teams.context().settings.client_id}&redirect_uri={REDIRECT_URI}"
        "&scope=https://graph.microsoft.com/.default&state=s1"
    )
    page = await teams.http.get(consent_url)
    answer = await teams.submit(page.text, login=FABRIKAM_ADMIN, decision="accept")
    assert answer.status_code == 302
    assert "admin_consent=True" in answer.headers["location"]
    assert f"tenant={FABRIKAM_TENANT_ID}" in answer.headers["location"]

    account = await teams.connect(UNCONSENTED)
    assert account.organization_id == FABRIKAM_TENANT_ID


async def test_code_cannot_be_used_twice(teams: Teams) -> None:
    back, _, verifier = await teams.callback(WORK)
    kwargs = dict(
        code=back.params["code"],
        redirect_uri=REDIRECT_URI,
        code_verifier=verifier,
        account_level=False,
    )
    await teams.call("connect", **kwargs)
    with pytest.raises(ConnectFailed) as caught:
        await teams.call("connect", **kwargs)
    assert caught.value.provider_code == "AADSTS54005"
    assert "Connect Microsoft Teams again" in str(caught.value)


async def test_wrong_pkce_verifier_fails_the_connect(teams: Teams) -> None:
    back, _, _ = await teams.callback(WORK)
    with pytest.raises(ConnectFailed) as caught:
        await teams.call(
            "connect",
            code=back.params["code"],
            redirect_uri=REDIRECT_URI,
            code_verifier="not-the-verifier-" * 3,
            account_level=False,
        )
    assert caught.value.provider_code == "AADSTS501481"


async def test_wrong_client_secret_is_reported_as_configuration_without_the_secret(
    teams: Teams,
) -> None:
    back, _, verifier = await teams.callback(WORK)
    context = teams.context()
    context.settings = replace(context.settings, client_secret=Secret("wrong-secret-value"))
    with pytest.raises(ConnectFailed) as caught:
        await teams.call(
            "connect",
            context=context,
            code=back.params["code"],
            redirect_uri=REDIRECT_URI,
            code_verifier=verifier,
            account_level=False,
        )
    assert caught.value.provider_code == "AADSTS7000215"
    assert "client secret" in str(caught.value)
    assert "wrong-secret-value" not in str(caught.value)


async def test_user_cancelling_consent_is_access_denied(teams: Teams) -> None:
    url, _, _ = await teams.start()
    answer = await teams.sign_in(url, WORK, decision="cancel")
    params = httpx.URL(answer.headers["location"]).params
    assert params["error"] == "access_denied"
    assert "Accept" in explain_authorization_error(params["error"], params["error_description"])


async def test_connect_stores_nothing_in_the_sandbox_for_a_refused_personal_account(
    teams: Teams,
) -> None:
    # "Nothing stored" is the host's side; what the plugin controls is that it raises before
    # handing any tokens back, and that it made no meeting on the way.
    with pytest.raises(UnsupportedAccount):
        await teams.connect(PERSONAL, tenant="common")
    assert teams.state.meetings == {}


async def test_tenant_option_goes_into_the_login_urls(teams: Teams) -> None:
    url, _, _ = await teams.start(tenant=CONTOSO_TENANT_ID)
    assert url.startswith(f"{teams.url}/{CONTOSO_TENANT_ID}/oauth2/v2.0/authorize?")
    account = await teams.connect(WORK, tenant=CONTOSO_TENANT_ID)
    assert account.organization_id == CONTOSO_TENANT_ID
