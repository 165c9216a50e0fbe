"""Request and response bodies of the API (they are the OpenAPI document's schemas)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from meetbridge.settings import validate_timezone


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[dict] | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class MeetingTypeIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    duration_minutes: int
    hosts: list[str] = Field(min_length=1, description="Host emails, in order.")
    slug: str = ""
    description: str = ""
    location: str = Field(
        "host_default_video",
        description="A provider (zoom, google_meet, teams...), host_default_video, phone,"
        " in_person or custom_link.",
    )
    location_value: str = ""
    video_mode: Literal["always", "per_booking", "off"] = "always"
    assignment: Literal["one_person", "round_robin", "collective"] = "one_person"
    buffer_minutes: int = 0
    min_notice_minutes: int = 0


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
    meeting_type: str = Field(description="The meeting type's slug.")
    start: AwareDatetime = Field(description="A slot's start, with its UTC offset.")
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=320)
    timezone: str = Field(description="The booker's IANA timezone, e.g. Europe/Paris.")
    video: bool | None = Field(None, description="For per-booking video types.")
    notes: str = Field("", max_length=5000)

    _check_zone = field_validator("timezone")(classmethod(lambda cls, v: _zone(v)))


class RescheduleIn(Strict):
    start: AwareDatetime


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
    user_email: str
    provider: str
    return_url: str = Field(
        description="Where the person comes back to, with ?status=connected or ?error=..."
    )
    account_level: bool = False


class ConnectLinkOut(BaseModel):
    url: str
    expires_at: datetime


class SubscriptionIn(Strict):
    url: str
    events: list[str] = Field(default_factory=list, description="Empty: every event.")
    description: str = ""


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
