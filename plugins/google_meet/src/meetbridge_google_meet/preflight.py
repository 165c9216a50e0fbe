"""What to warn about before a connected Google account hosts meetings."""

from __future__ import annotations

from typing import Any

from meetbridge.providers import PreflightWarning

# Google Meet on a free Google account ends calls with three or more participants after 60
# minutes (one-to-one calls may last 24 hours). Workspace accounts have no such limit.
PERSONAL_GROUP_CALL_LIMIT_MINUTES = 60


def warnings(account: Any, duration_minutes: int | None) -> list[PreflightWarning]:
    """Warnings for ``account`` (a ConnectedAccount or the host's connection record)."""
    account_type = str(getattr(account, "account_type", "") or "")
    if (
        account_type == "personal"
        and duration_minutes is not None
        and duration_minutes > PERSONAL_GROUP_CALL_LIMIT_MINUTES
    ):
        return [
            PreflightWarning(
                code="google_meet_personal_60_minutes",
                message=(
                    f"This meeting type lasts {duration_minutes} minutes, but Google Meet on a"
                    " free Google account ends calls with three or more participants after 60"
                    " minutes (one-to-one calls are not limited). If bookings can have more"
                    " than two people, connect a Google Workspace account or shorten the"
                    " meeting type."
                ),
            )
        ]
    return []
