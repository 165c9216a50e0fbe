"""HTML a person sees in the sandbox: the consent page, errors, and meeting join/start pages."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape

from meetbridge_zoom.sandbox.world import OAuthApp, SandboxUser

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;color:#222}
h1{font-size:1.4rem} .box{border:1px solid #ccd;border-radius:8px;padding:1rem 1.5rem}
label{display:block;margin:.4rem 0} .muted{color:#667;font-size:.9rem}
button{font-size:1rem;padding:.5rem 1.2rem;margin-right:.5rem;border-radius:6px}
button.allow{background:#0b5cff;color:#fff;border:0} .error{color:#b00020}
code{background:#f3f3f6;padding:0 .2rem}
"""


def page(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><p class='muted'>Zoom sandbox (meetbridge)</p>{body}</body></html>"
    )


def consent(
    app: OAuthApp,
    users: Iterable[SandboxUser],
    params: Mapping[str, str],
    action: str,
    error: str = "",
) -> str:
    """The authorize page: pick the sandbox user, then Allow or Deny."""
    hidden = "".join(
        f"<input type='hidden' name='{escape(k)}' value='{escape(v)}'>" for k, v in params.items()
    )
    options = "".join(
        f"<label><input type='radio' name='user' value='{escape(u.email)}'"
        f"{' checked' if i == 0 else ''}> {escape(u.first_name)} {escape(u.last_name)}"
        f" &lt;{escape(u.email)}&gt; <span class='muted'>({escape(u.role_name)},"
        f" {'Basic' if u.type == 1 else 'Licensed'})</span></label>"
        for i, u in enumerate(users)
    )
    scopes = "".join(f"<li><code>{escape(s)}</code></li>" for s in app.scopes)
    kind = "an admin-managed (account-level)" if app.managed == "admin" else "a user-managed"
    problem = f"<p class='error'>{escape(error)}</p>" if error else ""
    return page(
        "Authorize app - Zoom sandbox",
        f"<h1>Allow this app to use your Zoom account?</h1>{problem}<div class='box'>"
        f"<p><code>{escape(app.client_id)}</code> is {kind} app asking for:</p><ul>{scopes}</ul>"
        f"<form method='post' action='{escape(action)}'>{hidden}"
        f"<p>Sign in as:</p>{options}"
        "<label>or another sandbox email: <input type='email' name='email'></label>"
        "<p><button class='allow' type='submit' name='decision' value='allow'>Allow</button>"
        "<button type='submit' name='decision' value='deny'>Deny</button></p>"
        "</form></div>",
    )


def error(title: str, message: str) -> str:
    return page(title, f"<h1>{escape(title)}</h1><p class='error'>{escape(message)}</p>")


def meeting(title: str, topic: str, detail: str) -> str:
    return page(
        title, f"<h1>{escape(title)}</h1><p><b>{escape(topic)}</b></p><p>{escape(detail)}</p>"
    )
