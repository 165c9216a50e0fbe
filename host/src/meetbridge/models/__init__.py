"""The data model. Import models from here: ``from meetbridge.models import Booking``."""

from meetbridge.models import indexes as _indexes  # noqa: F401  (0003_perf indexes)
from meetbridge.models.connections import Connection
from meetbridge.models.enums import (
    Assignment,
    BookingStatus,
    ConnectionStatus,
    JobStatus,
    LocationKind,
    MeetingStatus,
    MessageStatus,
    Role,
    VideoMode,
)
from meetbridge.models.meetings import Meeting
from meetbridge.models.notifications import CalendarFeedToken
from meetbridge.models.operations import AuditEvent, Job, OutboundMessage, WebhookReceipt
from meetbridge.models.organizations import Organization, User
from meetbridge.models.scheduling import (
    Attendee,
    AvailabilityWindow,
    Booking,
    BookingHost,
    MeetingType,
    MeetingTypeHost,
)
from meetbridge.models.web import ApiKey, ConnectLink, WebhookSubscription

__all__ = [
    "ApiKey",
    "Assignment",
    "Attendee",
    "AuditEvent",
    "AvailabilityWindow",
    "Booking",
    "BookingHost",
    "BookingStatus",
    "CalendarFeedToken",
    "ConnectLink",
    "Connection",
    "ConnectionStatus",
    "Job",
    "JobStatus",
    "LocationKind",
    "Meeting",
    "MeetingStatus",
    "MeetingType",
    "MeetingTypeHost",
    "MessageStatus",
    "Organization",
    "OutboundMessage",
    "Role",
    "User",
    "VideoMode",
    "WebhookReceipt",
    "WebhookSubscription",
]
