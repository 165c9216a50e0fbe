"""Rendering messages: one Jinja2 template per message, rendered twice (HTML and plain text).

Each message template (``templates/messages/<kind>.j2``) extends a layout and builds its body
from macros; the layout and the macros come in two flavours, ``html/`` (autoescaped, inline
styles that survive email clients) and ``text/``, so a message is written once and its two
parts always say the same thing. The words come from the catalogue (``t("key", ...)``).

Templates only see plain view objects (:mod:`meetbridge.notifications.views`); nothing secret
is ever put in them, which is how the host start link cannot leak into a message.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup, escape

from meetbridge.notifications.catalogue import Translator

FORMATS = {
    "html": ("html/layout.html", "html/macros.html"),
    "text": ("text/layout.txt", "text/macros.txt"),
}
_CODE = re.compile(r"`([^`]+)`")


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def _rich(value: str) -> Markup:
    """Escape, then show `backticked` commands as code (HTML only)."""
    escaped = str(escape(value))
    # Safe: the value is escaped above; only our own <code> tags are added.
    return Markup(  # noqa: S704
        _CODE.sub(
            r'<code style="font-family:SFMono-Regular,Menlo,Consolas,monospace;font-size:13px;'
            r'background:#f3f4f6;border-radius:4px;padding:1px 5px;">\1</code>',
            escaped,
        )
    )


def _wrap(value: str, joiner: str = "\n", width: int = 72) -> str:
    """Wrap plain text at ``width``, never inside a URL or a `command` (they must copy whole)."""
    protected = _CODE.sub(lambda m: m.group(0).replace(" ", "\0"), value)
    lines = textwrap.wrap(protected, width=width, break_long_words=False, break_on_hyphens=False)
    return joiner.join(lines).replace("\0", " ")


@cache
def environment(fmt: str) -> Environment:
    """The Jinja environment of one output format (cached: templates compile once)."""
    env = Environment(
        loader=PackageLoader("meetbridge.notifications", "templates"),
        # Plain text is not HTML: escaping it would print "&amp;" in text-only clients.
        autoescape=fmt == "html",  # noqa: S701
        undefined=StrictUndefined,  # a missing variable is a bug, not an empty string
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["rich"] = _rich if fmt == "html" else (lambda value: value)
    env.filters["wrap"] = _wrap
    return env


def _tidy_text(text: str) -> str:
    lines = [line.rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def render(kind: str, context: dict[str, Any], *, locale: str = "en") -> Rendered:
    """Render message ``kind`` with ``context`` (views from :mod:`views`) in ``locale``."""
    t = Translator(locale)
    parts: dict[str, str] = {}
    subject = ""
    for fmt, (layout, macros) in FORMATS.items():
        env = environment(fmt)
        template = env.get_template(f"messages/{kind}.j2")
        variables = {**context, "t": t, "lang": t.locale, "layout": layout, "macros": macros}
        parts[fmt] = template.render(variables)
        if fmt == "text":
            block = template.blocks["subject"]
            subject = "".join(block(template.new_context(variables))).strip()
    return Rendered(
        subject=" ".join(subject.split()),
        text=_tidy_text(parts["text"]),
        html=parts["html"],
    )


def message_kinds() -> list[str]:
    """Every message that has a template."""
    env = environment("text")
    return sorted(
        name.removeprefix("messages/").removesuffix(".j2")
        for name in env.list_templates()
        if name.startswith("messages/")
    )
