"""A scripted browser over httpx: what ``meetbridge demo`` and the HTTP tests use to go through
pages exactly as a person's browser would.

It keeps cookies, follows redirects one by one (so each hop can be shown and checked), reads
the forms on a page (hidden fields, the CSRF token, checked boxes and radios) and submits them
with the changes a person would make. It knows nothing of meetbridge's internals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx


@dataclass
class Form:
    action: str
    method: str
    fields: list[tuple[str, str]] = field(default_factory=list)  # what submitting sends as is
    names: set[str] = field(default_factory=set)  # every named control
    buttons: list[tuple[str, str, str]] = field(default_factory=list)  # (name, value, text)
    attrs: dict[str, str] = field(default_factory=dict)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._button: list[str] | None = None
        self._select: str | None = None
        self._select_first: str | None = None
        self._select_chosen = False
        self._textarea: list[str] | None = None

    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        attrs = {k: v or "" for k, v in attrs_list}
        if tag == "form":
            self._form = Form(
                attrs.get("action", ""), attrs.get("method", "get").lower(), attrs=attrs
            )
            self.forms.append(self._form)
            return
        form = self._form
        if form is None:
            return
        name = attrs.get("name", "")
        if tag == "input":
            kind = attrs.get("type", "text").lower()
            if name:
                form.names.add(name)
            if kind in ("submit", "image"):
                form.buttons.append((name, attrs.get("value", ""), attrs.get("value", "")))
            elif kind in ("checkbox", "radio"):
                if "checked" in attrs and name:
                    form.fields.append((name, attrs.get("value", "on")))
            elif name:
                form.fields.append((name, attrs.get("value", "")))
        elif tag == "button":
            self._button = [name, attrs.get("value", ""), ""]
            if attrs.get("type", "submit").lower() != "submit":
                self._button = None
        elif tag == "select" and name:
            form.names.add(name)
            self._select, self._select_first, self._select_chosen = name, None, False
        elif tag == "option" and self._select:
            value = attrs.get("value", "")
            if self._select_first is None:
                self._select_first = value
            if "selected" in attrs and not self._select_chosen:
                form.fields.append((self._select, value))
                self._select_chosen = True
        elif tag == "textarea" and name:
            form.names.add(name)
            self._textarea = [name, ""]

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button[2] += data
        if self._textarea is not None:
            self._textarea[1] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "button" and self._button is not None and self._form is not None:
            name, value, text = self._button
            self._form.buttons.append((name, value, text.strip()))
            self._button = None
        elif tag == "select" and self._select and self._form is not None:
            if not self._select_chosen and self._select_first is not None:
                self._form.fields.append((self._select, self._select_first))
            self._select = None
        elif tag == "textarea" and self._textarea is not None and self._form is not None:
            self._form.fields.append((self._textarea[0], self._textarea[1]))
            self._textarea = None


def forms_of(html: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


class BrowserError(AssertionError):
    """The page did not offer what the script expected (a form, a redirect...)."""


class ScriptedBrowser:
    def __init__(
        self,
        base_url: str,
        *,
        log: Callable[[str], None] | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.client = httpx.AsyncClient(timeout=timeout, follow_redirects=False)
        self.log = log or (lambda _line: None)
        self.last: httpx.Response | None = None

    async def aclose(self) -> None:
        await self.client.aclose()

    async def __aenter__(self) -> ScriptedBrowser:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    def url(self, target: str) -> str:
        return urljoin(self.base_url + "/", target)

    async def get(self, target: str, *, follow: bool = True) -> httpx.Response:
        response = await self.client.get(self.url(target))
        self.log(f"GET {_short(target)} -> {response.status_code}")
        return await self._done(response, follow)

    async def _done(self, response: httpx.Response, follow: bool) -> httpx.Response:
        self.last = response
        if follow:
            response = await self.follow(response)
        return response

    async def follow(self, response: httpx.Response, *, limit: int = 10) -> httpx.Response:
        """Follow redirects one hop at a time (303/302 become GET, as browsers do)."""
        for _ in range(limit):
            if response.status_code not in (301, 302, 303, 307, 308):
                return response
            target = urljoin(str(response.url), response.headers["location"])
            response = await self.client.get(target)
            self.log(f"  -> {_short(target)} -> {response.status_code}")
            self.last = response
        raise BrowserError("Too many redirects.")

    def form(self, page: httpx.Response, *, action: str | None = None, index: int = 0) -> Form:
        found = forms_of(page.text)
        if action is not None:  # the form whose action ends with this path
            found = [f for f in found if urlsplit(f.action).path.endswith(action)]
        if len(found) <= index:
            raise BrowserError(
                f"No form{f' posting to {action}' if action else ''} on {page.url}"
                f" (status {page.status_code})."
            )
        return found[index]

    async def submit(
        self,
        page: httpx.Response,
        *,
        action: str | None = None,
        data: dict[str, Any] | None = None,
        button: str | None = None,
        drop: Iterable[str] = (),
        follow: bool = True,
    ) -> httpx.Response:
        """Fill the form (fields in ``data`` replace the page's; a list value sends several)
        and submit it, pressing the button whose text or value is ``button``."""
        form = self.form(page, action=action)
        data = data or {}
        dropped = set(drop) | set(data)
        fields = [(k, v) for k, v in form.fields if k not in dropped]
        for key, value in data.items():
            values = value if isinstance(value, list | tuple) else [value]
            fields += [(key, str(v)) for v in values]
        if button is not None:
            chosen = [b for b in form.buttons if button in (b[1], b[2])]
            if not chosen:
                raise BrowserError(f"No button {button!r} on the form at {page.url}.")
            if chosen[0][0]:
                fields.append((chosen[0][0], chosen[0][1]))
        target = urljoin(str(page.url), form.action or str(page.url))
        if form.method == "post":
            response = await self.client.post(target, data=_pairs(fields))
        else:
            response = await self.client.get(target, params=fields)
        self.log(f"{form.method.upper()} {_short(target)} -> {response.status_code}")
        return await self._done(response, follow)

    async def sign_in(self, email: str, password: str) -> httpx.Response:
        page = await self.get("/login")
        response = await self.submit(page, data={"email": email, "password": password})
        if "/login" in str(response.url):
            raise BrowserError(f"Signing in as {email} failed.")
        return response


def _pairs(fields: list[tuple[str, str]]) -> dict[str, Any]:
    """httpx form data: repeated names as lists."""
    out: dict[str, Any] = {}
    for key, value in fields:
        if key in out:
            existing = out[key]
            out[key] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            out[key] = value
    return out


def _short(target: str) -> str:
    """A URL for a transcript: the path only (codes, state and tokens live in queries)."""
    parts = urlsplit(target)
    return parts.path or "/"
