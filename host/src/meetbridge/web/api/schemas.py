"""Request and response bodies of the API (they are the OpenAPI document's schemas)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
)

from meetbridge.settings import validate_timezone

# Row ids fit the database's 32-bit integer columns; larger ones are refused as invalid
# (PostgreSQL fails a look-up with a bigger one instead of finding nothing).
MAX_ROW_ID = 2_147_483_647
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]

NUL_MESSAGE = "must not contain NUL characters"
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(3000, 1, 1, tzinfo=UTC)
_NUMBER = re.compile(r"\s*[-+]?\d+(\.\d*)?\s*")


def _iso_only(value: Any) -> Any:
    """Instants come as ISO 8601 text: no Unix timestamps (the document says date-time)."""
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise ValueError(
            "Give a date and time in ISO 8601 with its UTC offset, e.g. 2026-12-01T15:00:00Z"
        )
    return value


def _in_range(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not _EARLIEST <= utc < _LATEST:
        raise ValueError("The date must be between 1970 and 2999")
    return value


# An instant with its UTC offset, in ISO 8601, between 1970 and 2999.
Instant = Annotated[AwareDatetime, BeforeValidator(_iso_only), AfterValidator(_in_range)]


def has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple):
        return any(has_nul(v) for v in value)
    return False


class Strict(BaseModel):
    """A request body: unknown fields are refused, and so is text with NUL characters (no
    database stores them)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if has_nul(value):
            raise ValueError(NUL_MESSAGE)
        return value


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[dict] | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class MeetingTypeIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    duration_minutes: int = Field(ge=5, le=12 * 60)
    hosts: list[Annotated[str, Field(max_length=320)]] = Field(
        min_length=1, max_length=100, description="Host emails, in order."
    )
    slug: str = Field("", max_length=100)
    description: str = Field("", max_length=5000)
    location: str = Field(
        "host_default_video",
        max_length=64,
        description="A provider (zoom, google_meet, teams...), host_default_video, phone,"
        " in_person or custom_link.",
    )
    location_value: str = Field("", max_length=1000)
    video_mode: Literal["always", "per_booking", "off"] = "always"
    assignment: Literal["one_person", "round_robin", "collective"] = "one_person"
    buffer_minutes: int = Field(0, ge=0, le=24 * 60)
    min_notice_minutes: int = Field(0, ge=0, le=366 * 24 * 60)


class MeetingTypeOut(BaseModel):
    slug: str
    name: str
    duration_minutes: int
    location: str
    assignment: str
    video_mode: str
    hosts: list[str]
    active: bool
    booking_url: str


class SlotOut(BaseModel):
    start: datetime
    end: datetime
    local_start: str = Field(description="The start in the requested timezone.")


class SlotsOut(BaseModel):
    meeting_type: str
    timezone: str
    slots: list[SlotOut]


def _zone(value: str) -> str:
    return validate_timezone(value)


class BookingIn(Strict):
    meeting_type: str = Field(max_length=100, description="The meeting type's slug.")
    start: Instant = Field(description="A slot's start, with its UTC offset.")
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=320)
    timezone: str = Field(
        max_length=64, description="The booker's IANA timezone, e.g. Europe/Paris."
    )
    video: bool | None = Field(None, description="For per-booking video types.")
    notes: str = Field("", max_length=5000)

    _check_zone = field_validator("timezone")(classmethod(lambda cls, v: _zone(v)))


class RescheduleIn(Strict):
    start: Instant


class CancelIn(Strict):
    reason: str = Field("", max_length=1000)


class Conferencing(BaseModel):
    status: str = Field(
        description="provisioned, pending, failed, none (no provider could host it),"
        " not_requested, deleted."
    )
    provider: str | None
    join_url: str | None = Field(description="The attendee link (never a host start link).")


class BookingOut(BaseModel):
    uid: str
    status: str
    start: datetime
    end: datetime
    hosts: list[str]
    conferencing: Conferencing
    manage_url: str | None = Field(
        None, description="The client's private link; only in the answer that created it."
    )


class ConnectionOut(BaseModel):
    id: int
    provider: str
    owner: str = Field(description="The member's email, or 'organisation' (account-level).")
    status: str
    account_email: str
    account_type: str
    connected_at: datetime | None
    last_error: str | None
    warnings: list[str]


class ConnectLinkIn(Strict):
    user_email: str = Field(max_length=320)
    provider: str = Field(max_length=64)
    return_url: str = Field(
        max_length=2000,
        description="Where the person comes back to, with ?status=connected or ?error=...",
    )
    account_level: bool = False


class ConnectLinkOut(BaseModel):
    url: str
    expires_at: datetime


class SubscriptionIn(Strict):
    url: str = Field(max_length=2000)
    events: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=list, max_length=20, description="Empty: every event."
    )
    description: str = Field("", max_length=200)


class SubscriptionOut(BaseModel):
    id: int
    url: str
    events: list[str]
    description: str
    active: bool
    created_at: datetime
    secret: str | None = Field(None, description="Only in the answer that created it.")


class ProviderOut(BaseModel):
    name: str
    label: str
    capabilities: list[str]
