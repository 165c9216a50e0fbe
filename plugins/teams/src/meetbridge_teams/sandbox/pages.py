"""The HTML a person sees in the sandbox: sign in + consent, admin consent, errors, a meeting.

Plain HTML with no scripts, so it can be clicked through in any browser (or driven by a test
with a form POST). Every value is escaped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape

from meetbridge_teams.sandbox.state import Account, OnlineMeeting

_STYLE = (
    "body{font-family:Segoe UI,Arial,sans-serif;background:#f2f2f2;margin:0}"
    "main{max-width:460px;margin:48px auto;background:#fff;padding:32px 40px;"
    "box-shadow:0 2px 6px rgba(0,0,0,.2)}h1{font-size:22px;font-weight:600}"
    "label{display:block;padding:8px 4px;border-bottom:1px solid #eee}"
    ".note{color:#666;font-size:13px}.error{color:#a4262c}"
    "button{padding:6px 20px;margin:12px 8px 0 0}"
)

SCOPE_TEXT = {
    "openid": "Sign you in",
    "offline_access": "Maintain access to data you have given it access to",
    "user.read": "Sign you in and read your profile",
    "onlinemeetings.readwrite": "Read and create your online meetings",
    "calendars.read": "Read your calendars",
    "calendars.readwrite": "Have full access to your calendars",
}


def _page(title: str, body: str) -> str:
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body><main><p class=note>Microsoft (sandbox)</p>"
        f"{body}</main></body></html>"
    )


def _hidden(fields: Mapping[str, str]) -> str:
    return "".join(
        f'<input type=hidden name="{escape(k)}" value="{escape(v)}">' for k, v in fields.items()
    )


def consent_page(
    *,
    action: str,
    app_name: str,
    fields: Mapping[str, str],
    scopes: Iterable[str],
    accounts: Iterable[tuple[Account, str]],
    error: str = "",
) -> str:
    """Pick an account, see the permissions, Accept or Cancel.

    ``accounts`` pairs each account with a note ("" when it can sign in here, else why not).
    """
    rows = []
    for account, note in accounts:
        disabled = " disabled" if note.startswith("cannot") else ""
        rows.append(
            f'<label><input type=radio name=login value="{escape(account.user_principal_name)}"'
            f"{disabled}> {escape(account.display_name)} &lt;{escape(account.user_principal_name)}"
            f"&gt; <span class=note>{escape(note)}</span></label>"
        )
    perms = "".join(f"<li>{escape(SCOPE_TEXT.get(s.lower(), s))}</li>" for s in scopes)
    err = f"<p class=error role=alert>{escape(error)}</p>" if error else ""
    return _page(
        "Permissions requested",
        (
            f"<h1>Permissions requested</h1>{err}<p><b>{escape(app_name)}</b> would like to:</p>"
            f'<ul>{perms}</ul><form method=post action="{escape(action)}">{_hidden(fields)}'
            f"<fieldset><legend>Pick an account</legend>{''.join(rows)}</fieldset>"
            "<label><input type=checkbox name=consent_for_organization value=1> Consent on behalf"
            " of your organization (administrators only)</label>"
            "<button name=decision value=accept>Accept</button>"
            "<button name=decision value=cancel>Cancel</button></form>"
        ),
    )


def admin_consent_page(
    *,
    action: str,
    app_name: str,
    tenant: str,
    fields: Mapping[str, str],
    admins: Iterable[Account],
    error: str = "",
) -> str:
    rows = "".join(
        f'<label><input type=radio name=login value="{escape(a.user_principal_name)}">'
        f" {escape(a.display_name)} &lt;{escape(a.user_principal_name)}&gt;</label>"
        for a in admins
    )
    err = f"<p class=error role=alert>{escape(error)}</p>" if error else ""
    return _page(
        "Admin consent",
        (
            f"<h1>Permissions requested — accept for your organization</h1>{err}"
            f"<p><b>{escape(app_name)}</b> wants to use Microsoft Teams meetings for everyone in"
            f' {escape(tenant)}.</p><form method=post action="{escape(action)}">{_hidden(fields)}'
            f"<fieldset><legend>Sign in as an administrator</legend>{rows}</fieldset>"
            "<button name=decision value=accept>Accept</button>"
            "<button name=decision value=cancel>Cancel</button></form>"
        ),
    )


def error_page(code: int, message: str) -> str:
    """Microsoft shows some errors on its own page and never redirects (bad client, bad URI)."""
    return _page(
        "Sign in error",
        (
            "<h1>Sorry, but we are having trouble signing you in.</h1>"
            f"<p class=error>AADSTS{code}: {escape(message)}</p>"
        ),
    )


def meeting_page(meeting: OnlineMeeting | None) -> str:
    if meeting is None:
        return _page("Meeting not found", "<h1>This meeting is no longer available.</h1>")
    return _page(
        meeting.subject or "Teams meeting",
        (
            f"<h1>{escape(meeting.subject or 'Microsoft Teams meeting')}</h1>"
            f"<p>{meeting.start:%Y-%m-%d %H:%M} to {meeting.end:%H:%M} UTC</p>"
            f"<p>Meeting ID: {escape(meeting.join_meeting_id)}</p>"
            f"<p>Passcode: {escape(meeting.passcode)}</p>"
            "<p class=note>Sandbox meeting: you would now wait in the lobby until the organiser"
            " admits you.</p>"
        ),
    )
