"""The sandbox's Microsoft sign-in: ``/{tenant}/oauth2/v2.0/authorize`` and admin consent.

Behaves as login.microsoftonline.com does where meetbridge can tell the difference:

- tenant paths ``organizations`` (work and school accounts only), ``common``, ``consumers``, a
  tenant id or domain (that organisation's people only); an unknown tenant is AADSTS90002;
- an unknown client or an unregistered redirect URI is shown as an error page and never
  redirected (AADSTS700016, AADSTS50011); other problems redirect with ``error=``;
- the code it issues is redeemed at the token endpoint (:mod:`.token_endpoint`);
- a tenant whose administrator has not consented refuses: on the redirect, or (per tenant) at
  the token endpoint, with AADSTS65001;
- ``/{tenant}/v2.0/adminconsent`` lets an administrator consent for the whole organisation.
"""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from meetbridge_teams.sandbox import pages
from meetbridge_teams.sandbox.state import (
    PERSONAL_TENANT_ID,
    Account,
    Client,
    SandboxState,
    normalise_scope,
)

router = APIRouter()

_AUTH_FIELDS = (
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "response_mode",
    "response_type",
)


def sandbox(request: Request) -> SandboxState:
    return request.app.state.sandbox


async def form_data(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (no multipart dependency needed)."""
    raw = (await request.body()).decode("utf-8", errors="replace")
    return {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}


def _with_query(url: str, params: dict[str, str]) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(params)


def _redirect(url: str, params: dict[str, str]) -> RedirectResponse:
    return RedirectResponse(_with_query(url, params), status_code=302)


def _error_page(code: int, message: str, status: int = 400) -> HTMLResponse:
    return HTMLResponse(pages.error_page(code, message), status_code=status)


def resolve_tenant(state: SandboxState, tenant: str) -> tuple[str, str] | None:
    """``(kind, tenant id)``: kind is organizations/common/consumers/tenant; None if unknown."""
    if tenant in {"organizations", "common", "consumers"}:
        return tenant, ""
    for known in state.tenants.values():
        if tenant.lower() in {known.id, known.domain}:
            return "tenant", known.id
    return None


def sign_in_refusal(state: SandboxState, tenant: str, account: Account) -> str:
    """Why ``account`` cannot sign in under this tenant path ("" when it can)."""
    kind, tenant_id = resolve_tenant(state, tenant) or ("", "")
    if kind == "organizations" and account.personal:
        return (
            "cannot sign in here: You can't sign in here with a personal account. Use your"
            " work or school account instead."
        )
    if kind == "consumers" and not account.personal:
        return "cannot sign in here: this endpoint accepts personal Microsoft accounts only."
    if (
        kind == "tenant"
        and account.tenant_id != tenant_id
        and not (tenant_id == PERSONAL_TENANT_ID and account.personal)
    ):
        return (
            f"cannot sign in here: AADSTS50020: User account '{account.user_principal_name}'"
            " does not exist in this tenant and cannot access the application."
        )
    return ""


def _check_client(state: SandboxState, params: dict[str, str]) -> Client | HTMLResponse:
    client = state.clients.get(params.get("client_id", ""))
    if client is None:
        return _error_page(
            700016,
            f"Application with identifier '{params.get('client_id', '')}'"
            " was not found in the directory. This can happen if the application"
            " has not been installed by the administrator of the tenant.",
        )
    if params.get("redirect_uri", "") not in client.redirect_uris:
        return _error_page(
            50011,
            f"The redirect URI '{params.get('redirect_uri', '')}'"
            " specified in the request does not match the redirect URIs"
            f" configured for the application '{client.client_id}'.",
        )
    return client


def _scopes(raw: str) -> tuple[str, ...]:
    return tuple(normalise_scope(s) for s in raw.split() if s)


def _render_consent(
    request: Request,
    tenant: str,
    params: dict[str, str],
    client: Client,
    error: str = "",
    status: int = 200,
) -> HTMLResponse:
    state = sandbox(request)
    notes = []
    for account in state.accounts.values():
        note = sign_in_refusal(state, tenant, account)
        if not note and not state.can_consent(account, client.client_id):
            note = f"({state.tenants[account.tenant_id].name}: admin approval needed)"
        notes.append((account, note))
    html = pages.consent_page(
        action=str(request.url_for("authorize_submit", tenant=tenant)),
        app_name=client.name,
        fields={k: params[k] for k in _AUTH_FIELDS if k in params},
        scopes=_scopes(params.get("scope", "")),
        accounts=notes,
        error=error,
    )
    return HTMLResponse(html, status_code=status)


@router.get("/{tenant}/oauth2/v2.0/authorize", name="authorize")
async def authorize(request: Request, tenant: str) -> Response:
    state = sandbox(request)
    params = dict(request.query_params)
    if resolve_tenant(state, tenant) is None:
        return _error_page(
            90002,
            f"Tenant '{tenant}' not found. Check to make sure you have the"
            " correct tenant ID and are signing into the correct cloud.",
        )
    client = _check_client(state, params)
    if isinstance(client, HTMLResponse):
        return client
    problem = _request_problem(params)
    if problem:
        return _redirect(params["redirect_uri"], {**problem, "state": params.get("state", "")})
    return _render_consent(request, tenant, params, client)


def _request_problem(params: dict[str, str]) -> dict[str, str] | None:
    if params.get("response_type") != "code":
        return {
            "error": "unsupported_response_type",
            "error_description": "AADSTS700054: response_type 'code' is required here.",
        }
    if not params.get("scope"):
        return {
            "error": "invalid_request",
            "error_description": (
                "AADSTS900144: The request body must contain the following parameter: 'scope'."
            ),
        }
    if params.get("response_mode", "query") not in {"query", ""}:
        return {
            "error": "invalid_request",
            "error_description": "AADSTS900144: the sandbox answers with response_mode=query only.",
        }
    if params.get("code_challenge") and params.get("code_challenge_method", "plain") not in {
        "S256",
        "plain",
    }:
        return {
            "error": "invalid_request",
            "error_description": "AADSTS501491: Invalid code_challenge_method.",
        }
    return None


@router.post("/{tenant}/oauth2/v2.0/authorize", name="authorize_submit")
async def authorize_submit(request: Request, tenant: str) -> Response:
    state = sandbox(request)
    form = await form_data(request)
    if resolve_tenant(state, tenant) is None:
        return _error_page(90002, f"Tenant '{tenant}' not found.")
    client = _check_client(state, form)
    if isinstance(client, HTMLResponse):
        return client
    problem = _request_problem(form)
    if problem:
        return _redirect(form["redirect_uri"], {**problem, "state": form.get("state", "")})
    if form.get("decision") != "accept":
        return _redirect(
            form["redirect_uri"],
            {
                "error": "access_denied",
                "error_description": "AADSTS65004: User declined to consent to access the app.",
                "state": form.get("state", ""),
            },
        )
    account = state.account_by_login(form.get("login", ""))
    if account is None:
        return _render_consent(
            request,
            tenant,
            form,
            client,
            status=400,
            error=(
                "This username may be incorrect. Make sure you typed it correctly, or pick an"
                " account."
            ),
        )
    refusal = sign_in_refusal(state, tenant, account)
    if refusal:
        return _render_consent(
            request,
            tenant,
            form,
            client,
            status=400,
            error=refusal.removeprefix("cannot sign in here: "),
        )
    tenant_record = state.tenants[account.tenant_id]
    if not state.can_consent(account, client.client_id):
        if tenant_record.consent_failure == "redirect":
            return _redirect(
                form["redirect_uri"],
                {
                    "error": "consent_required",
                    "error_description": (
                        f"AADSTS65001: The user or administrator has not consented to use the"
                        f" application with ID '{client.client_id}' named '{client.name}'. Send an"
                        " interactive authorization request for this user and resource."
                    ),
                    "state": form.get("state", ""),
                },
            )
    elif account.is_admin and form.get("consent_for_organization"):
        state.grant_admin_consent(account.tenant_id, client.client_id)
    elif not state.has_consent(account, client.client_id):
        with state.lock:
            state.user_consents.add((account.id, client.client_id))
    code = state.issue_code(
        client_id=client.client_id,
        account_id=account.id,
        redirect_uri=form["redirect_uri"],
        scopes=_scopes(form.get("scope", "")),
        code_challenge=form.get("code_challenge", ""),
        code_challenge_method=form.get("code_challenge_method", "plain"),
        tenant_path=tenant,
    )
    return _redirect(
        form["redirect_uri"],
        {
            "code": code.code,
            "state": form.get("state", ""),
            "session_state": str(uuid.uuid4()),
        },
    )


# -- admin consent ---------------------------------------------------------------------------


@router.get("/{tenant}/v2.0/adminconsent", name="adminconsent")
async def adminconsent(request: Request, tenant: str) -> Response:
    return _admin_page(request, tenant, dict(request.query_params))


def _admin_page(
    request: Request, tenant: str, params: dict[str, str], error: str = "", status: int = 200
) -> Response:
    state = sandbox(request)
    if resolve_tenant(state, tenant) is None:
        return _error_page(90002, f"Tenant '{tenant}' not found.")
    client = _check_client(state, params)
    if isinstance(client, HTMLResponse):
        return client
    admins = [
        a for a in state.accounts.values() if a.is_admin and not sign_in_refusal(state, tenant, a)
    ]
    html = pages.admin_consent_page(
        action=str(request.url_for("adminconsent_submit", tenant=tenant)),
        app_name=client.name,
        tenant=tenant,
        fields={k: params.get(k, "") for k in ("client_id", "redirect_uri", "scope", "state")},
        admins=admins,
        error=error,
    )
    return HTMLResponse(html, status_code=status)


@router.post("/{tenant}/v2.0/adminconsent", name="adminconsent_submit")
async def adminconsent_submit(request: Request, tenant: str) -> Response:
    state = sandbox(request)
    form = await form_data(request)
    client = _check_client(state, form)
    if isinstance(client, HTMLResponse):
        return client
    if form.get("decision") != "accept":
        return _redirect(
            form["redirect_uri"],
            {
                "error": "access_denied",
                "state": form.get("state", ""),
                "error_description": "AADSTS65004: User declined to consent to access the app.",
            },
        )
    account = state.account_by_login(form.get("login", ""))
    if account is None or not account.is_admin or sign_in_refusal(state, tenant, account):
        return _admin_page(
            request,
            tenant,
            form,
            status=400,
            error=(
                "AADSTS90094: Only an administrator of the organization can grant this consent."
            ),
        )
    state.grant_admin_consent(account.tenant_id, client.client_id)
    return _redirect(
        form["redirect_uri"],
        {
            "admin_consent": "True",
            "tenant": account.tenant_id,
            "scope": form.get("scope", ""),
            "state": form.get("state", ""),
        },
    )
