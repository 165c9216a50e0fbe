"""The sandbox's HTML pages: Google's account chooser + consent screen, and its error page."""

from __future__ import annotations

from html import escape

from meetbridge_google_meet.sandbox.state import (
    IDENTITY_SCOPES,
    SCOPE_DESCRIPTIONS,
    Account,
    OAuthClient,
    PendingConsent,
)

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;color:#202124}
h1{font-size:1.4rem;font-weight:500} .note{color:#5f6368;font-size:.9rem}
fieldset{border:1px solid #dadce0;border-radius:8px;margin:1rem 0;padding:.8rem 1rem}
label{display:block;margin:.4rem 0} button{padding:.5rem 1.4rem;margin-right:.6rem}
.allow{background:#1a73e8;color:#fff;border:0;border-radius:4px}
.banner{background:#fef7e0;padding:.5rem .8rem;border-radius:4px;font-size:.85rem}
"""


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><p class='banner'>Google sandbox (meetbridge) - not the real Google</p>{body}"
        "</body></html>"
    )


def error_page(error: str, description: str) -> str:
    """Google's "Access blocked" page for a request it will not even show a consent for."""
    return _page(
        "Access blocked",
        f"<h1>Access blocked: this app's request is invalid</h1>"
        f"<p>Error 400: <code id='error'>{escape(error)}</code></p>"
        f"<p class='note' id='description'>{escape(description)}</p>",
    )


def consent_page(
    *, action: str, pending: PendingConsent, client: OAuthClient, accounts: list[Account]
) -> str:
    """Choose an account, tick the permissions to grant, Allow or Deny."""
    hint = pending.login_hint.lower()
    choices = []
    for index, account in enumerate(accounts):
        chosen = account.email.lower() == hint or (not hint and index == 0)
        checked = " checked" if chosen else ""
        kind = f"Workspace ({account.hosted_domain})" if account.hosted_domain else "personal"
        choices.append(
            f"<label><input type='radio' name='account' value='{escape(account.email)}'{checked}>"
            f" {escape(account.name or account.email)} &lt;{escape(account.email)}&gt;"
            f" <span class='note'>{kind}</span></label>"
        )
    identity = [s for s in pending.scopes if s in IDENTITY_SCOPES]
    optional = [s for s in pending.scopes if s not in IDENTITY_SCOPES]
    shared = "".join(f"<li>{escape(_identity_label(s))}</li>" for s in identity)
    # Like Google's granular consent screen: each permission beyond sign-in is a checkbox
    # the person must tick; unticked ones are not granted.
    boxes = "".join(
        f"<label><input type='checkbox' name='scope' value='{escape(s)}'>"
        f" {escape(SCOPE_DESCRIPTIONS.get(s, s))}</label>"
        for s in optional
    )
    return _page(
        "Sign in - Google Accounts",
        f"<h1>{escape(client.name)} wants access to your Google Account</h1>"
        f"<form method='post' action='{escape(action)}'>"
        f"<input type='hidden' name='consent_id' value='{escape(pending.id)}'>"
        "<fieldset><legend>Choose an account</legend>"
        + "".join(choices)
        + "<label>Or use another account: <input type='email' name='other_account'"
        " placeholder='name@example.com'></label></fieldset>"
        f"<fieldset><legend>{escape(client.name)} will see</legend><ul>{shared}</ul>"
        + (f"<p>Select what {escape(client.name)} can access:</p>{boxes}" if boxes else "")
        + "</fieldset>"
        # Continue first: pressing Enter in the email field submits the first button.
        "<button class='allow' type='submit' name='decision' value='allow'>Continue</button>"
        "<button type='submit' name='decision' value='deny'>Cancel</button>"
        "</form>",
    )


def _identity_label(scope: str) -> str:
    if scope == "openid":
        return "Associate you with your personal info on Google"
    if scope.endswith("userinfo.email"):
        return "See your primary Google Account email address"
    return "See your personal info, including any personal info you've made publicly available"
