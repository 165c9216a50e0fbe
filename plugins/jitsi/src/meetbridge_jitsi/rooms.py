"""Jitsi rooms: an unguessable name on the configured server, and the link to it.

A Jitsi room exists as soon as someone opens its URL, so whoever can guess the URL can walk in.
Room names are therefore a short prefix and 128 random bits (``meetbridge-3f9c...``), never
anything taken from the booking (names, topics, ids) that someone could reconstruct.

Per-meeting-type settings become Jitsi's URL-fragment config (``#config.startWithAudioMuted=
true``), which the Jitsi web app reads on joining; the fragment never reaches the server.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from meetbridge.providers import ProviderContext, ProviderError
from meetbridge_jitsi.info import LABEL, NAME

ROOM_BYTES = 16  # 128 bits: as hard to guess as a random UUID
DEFAULT_PREFIX = "meetbridge"
_PREFIX = re.compile(r"^[A-Za-z0-9]{1,32}$")
ROOM_NAME = re.compile(r"^[A-Za-z0-9]{1,32}-[0-9a-f]{32}$")

# Meeting-type settings this plugin understands -> Jitsi's URL-fragment config keys.
SETTINGS_TO_CONFIG = {
    "start_audio_muted": "config.startWithAudioMuted",
    "start_video_muted": "config.startWithVideoMuted",
    "prejoin_page": "config.prejoinConfig.enabled",
}


def _setting_error(message: str, code: str) -> ProviderError:
    return ProviderError(f"{LABEL} is misconfigured: {message}", provider=NAME, provider_code=code)


def server_url(context: ProviderContext) -> str:
    """The Jitsi server's base URL, from the ``api_base_url`` setting (default meet.jit.si)."""
    url = context.endpoint("api_base_url")
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc or parts.query or parts.fragment:
        raise _setting_error(
            f"the server URL {url!r} is not a plain http(s) URL. Set"
            " MEETBRIDGE_PROVIDERS__JITSI__API_BASE_URL to your Jitsi server, for example"
            " https://meet.jit.si.",
            "bad_server_url",
        )
    return url.rstrip("/")


def room_prefix(context: ProviderContext) -> str:
    """The readable start of every room name (``options.room_prefix``)."""
    prefix = str(context.settings.options.get("room_prefix") or DEFAULT_PREFIX)
    if not _PREFIX.match(prefix):
        raise _setting_error(
            f"options.room_prefix {prefix!r} must be 1 to 32 letters or digits"
            " (MEETBRIDGE_PROVIDERS__JITSI__OPTIONS__ROOM_PREFIX).",
            "bad_room_prefix",
        )
    return prefix


def new_room_name(prefix: str) -> str:
    """A fresh room name: the prefix, a dash, 128 random bits in hex."""
    return f"{prefix}-{secrets.token_hex(ROOM_BYTES)}"


def config_fragment(settings: Mapping[str, Any]) -> str:
    """The URL fragment for a meeting type's settings ("" when there are none)."""
    pairs = []
    for key, config_key in SETTINGS_TO_CONFIG.items():
        if key not in settings:
            continue  # settings meant for other providers are not ours to judge
        value = settings[key]
        if not isinstance(value, bool):
            raise _setting_error(
                f"the meeting type setting {key!r} must be true or false, not {value!r}.",
                "bad_meeting_setting",
            )
        pairs.append(f"{config_key}={'true' if value else 'false'}")
    return "#" + "&".join(pairs) if pairs else ""


def join_url(room_url: str, settings: Mapping[str, Any]) -> str:
    """The link attendees get: the room's URL plus the settings fragment."""
    return room_url + config_fragment(settings)
