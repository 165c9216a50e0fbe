"""Status and kind values stored in the database (stored as their string values)."""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    ADMIN = "admin"
    MEMBER = "member"


class ConnectionStatus(enum.StrEnum):
    ACTIVE = "active"
    NEEDS_RECONNECT = "needs_reconnect"  # the grant died (revoked, expired, rotated away)
    REVOKED = "revoked"  # disconnected by the user or uninstalled at the provider


class LocationKind(enum.StrEnum):
    PROVIDER = "provider"  # a specific conferencing provider (zoom, google_meet, teams, ...)
    HOST_DEFAULT_VIDEO = "host_default_video"  # whatever video the host has connected
    PHONE = "phone"
    IN_PERSON = "in_person"
    CUSTOM_LINK = "custom_link"


class VideoMode(enum.StrEnum):
    ALWAYS = "always"  # every booking gets a meeting
    PER_BOOKING = "per_booking"  # decided case by case when booking
    OFF = "off"


class Assignment(enum.StrEnum):
    ROUND_ROBIN = "round_robin"
    COLLECTIVE = "collective"
    ONE_PERSON = "one_person"


class BookingStatus(enum.StrEnum):
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"


class MeetingStatus(enum.StrEnum):
    PENDING = "pending"
    PROVISIONED = "provisioned"
    FAILED = "failed"
    DELETED = "deleted"
    LEFT_AT_PROVIDER = "left_at_provider"  # its connection was gone when it should be deleted
    NONE = "none"  # no provider could host it; the booking stands without video


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    DEAD = "dead"  # gave up after max attempts; visible and retryable from the CLI


class MessageStatus(enum.StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    DEAD = "dead"
