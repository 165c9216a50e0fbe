"""The sandbox's token endpoint: ``POST /{tenant}/oauth2/v2.0/token``.

Client authentication by form body or HTTP Basic; ``authorization_code`` with single-use codes
that live ten minutes, the redirect URI check and PKCE; ``refresh_token`` that issues a new
refresh token every time and leaves the old one valid until it expires, and refuses revoked,
expired or unconsented grants with Microsoft's AADSTS codes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from meetbridge_teams.sandbox import errors
from meetbridge_teams.sandbox.identity import form_data, resolve_tenant, sandbox
from meetbridge_teams.sandbox.state import Client, SandboxState

router = APIRouter()


def _client_credentials(request: Request, form: dict[str, str]) -> tuple[str, str]:
    """client_secret_post, or HTTP Basic (both accepted by Microsoft)."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:]).decode()
            client_id, _, secret = decoded.partition(":")
            return client_id, secret
        except (ValueError, UnicodeDecodeError):
            return "", ""
    return form.get("client_id", ""), form.get("client_secret", "")


def _pkce_ok(code_challenge: str, method: str, verifier: str) -> bool:
    if not code_challenge:
        return True
    if not verifier:
        return False
    if method == "S256":
        digest = hashlib.sha256(verifier.encode()).digest()
        computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    else:
        computed = verifier
    return hmac.compare_digest(computed, code_challenge)


@router.post("/{tenant}/oauth2/v2.0/token", name="token")
async def token(request: Request, tenant: str) -> Response:
    state = sandbox(request)
    form = await form_data(request)
    with state.lock:
        state.token_calls += 1
    if resolve_tenant(state, tenant) is None:
        return errors.aad_error(
            400, "invalid_request", 90002, f"Tenant '{tenant}' not found.", state
        )
    grant_type = form.get("grant_type", "")
    if not grant_type:
        return errors.aad_error(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'grant_type'.",
            state,
        )
    client_id, secret = _client_credentials(request, form)
    client = state.clients.get(client_id)
    if client is None:
        return errors.aad_error(
            400,
            "unauthorized_client",
            700016,
            f"Application with identifier '{client_id}' was not found in the directory.",
            state,
        )
    if not secret:
        return errors.aad_error(
            401,
            "invalid_client",
            7000218,
            "The request body must contain"
            " the following parameter: 'client_assertion' or"
            " 'client_secret'.",
            state,
        )
    if not hmac.compare_digest(secret, client.client_secret):
        return errors.aad_error(
            401,
            "invalid_client",
            7000215,
            "Invalid client secret"
            " provided. Ensure the secret being sent in the request is the"
            " client secret value, not the client secret ID, for a secret"
            f" added to app '{client.client_id}'.",
            state,
        )
    if grant_type == "authorization_code":
        return _redeem_code(state, client, form)
    if grant_type == "refresh_token":
        return _refresh(state, client, form)
    return errors.aad_error(
        400,
        "unsupported_grant_type",
        70003,
        f"The app requested an unsupported grant type '{grant_type}'.",
        state,
    )


def _redeem_code(state: SandboxState, client: Client, form: dict[str, str]) -> Response:
    with state.lock:
        code = state.codes.get(form.get("code", ""))
        if code is None:
            return errors.aad_error(
                400,
                "invalid_grant",
                9002313,
                "Invalid request. Request is malformed or invalid.",
                state,
            )
        if code.redeemed:
            return errors.aad_error(
                400,
                "invalid_grant",
                54005,
                "OAuth2 Authorization code was"
                " already redeemed, please retry with a new valid code or"
                " use an existing refresh token.",
                state,
            )
        if code.expires_at <= state.clock():
            return errors.aad_error(
                400,
                "invalid_grant",
                70008,
                "The provided authorization"
                " code or refresh token has expired due to inactivity. Send"
                " a new interactive authorization request for this user and"
                " resource.",
                state,
            )
        if code.client_id != client.client_id:
            return errors.aad_error(
                400,
                "invalid_grant",
                70000,
                "The provided value for the 'code' parameter is not valid.",
                state,
            )
        if form.get("redirect_uri", "") != code.redirect_uri:
            return errors.aad_error(
                400,
                "invalid_grant",
                500112,
                f"The reply address"
                f" '{form.get('redirect_uri', '')}' does not match the reply"
                f" address '{code.redirect_uri}' provided when requesting"
                " Authorization code.",
                state,
            )
        if not _pkce_ok(
            code.code_challenge, code.code_challenge_method, form.get("code_verifier", "")
        ):
            return errors.aad_error(
                400,
                "invalid_grant",
                501481,
                "The Code_Verifier does not"
                " match the code_challenge supplied in the authorization"
                " request.",
                state,
            )
        account = state.accounts[code.account_id]
        if not state.has_consent(account, client.client_id):
            return errors.aad_error(
                400,
                "invalid_grant",
                65001,
                f"The user or administrator"
                f" has not consented to use the application with ID"
                f" '{client.client_id}' named '{client.name}'. Send an"
                " interactive authorization request for this user and"
                " resource.",
                state,
                suberror="consent_required",
            )
        code.redeemed = True
    return _tokens(
        state.issue_tokens(account, client.client_id, code.scopes, tenant_path=code.tenant_path)
    )


def _refresh(state: SandboxState, client: Client, form: dict[str, str]) -> Response:
    with state.lock:
        state.refresh_calls += 1
        old = state.refresh_tokens.get(form.get("refresh_token", ""))
        if old is None or old.client_id != client.client_id:
            return errors.aad_error(
                400,
                "invalid_grant",
                9002313,
                "Invalid request. Request is malformed or invalid.",
                state,
            )
        account = state.accounts[old.account_id]
        if not state.has_consent(account, client.client_id):
            return errors.aad_error(
                400,
                "invalid_grant",
                65001,
                f"The user or administrator"
                f" has not consented to use the application with ID"
                f" '{client.client_id}' named '{client.name}'. Send an"
                " interactive authorization request for this user and"
                " resource.",
                state,
                suberror="consent_required",
            )
        if old.revoked:
            return errors.aad_error(
                400,
                "invalid_grant",
                50173,
                "The provided grant has expired"
                " due to it being revoked, a fresh auth token is needed. The"
                " user might have changed or reset their password.",
                state,
            )
        if old.expires_at <= state.clock():
            return errors.aad_error(
                400,
                "invalid_grant",
                700082,
                "The refresh token has expired"
                f" due to inactivity. The token was issued on"
                f" {old.issued_at:%Y-%m-%dT%H:%M:%S}Z and was inactive for"
                " 90.00:00:00.",
                state,
            )
    # The old refresh token is left valid: Microsoft does not revoke it on use.
    return _tokens(state.issue_tokens(account, client.client_id, old.scopes, tenant_path=""))


def _tokens(body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})
