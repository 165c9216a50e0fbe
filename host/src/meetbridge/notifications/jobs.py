"""The notification jobs the worker runs (registered in ``Worker.__init__``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from meetbridge.notifications import connection_notices, delivery, outbox

if TYPE_CHECKING:
    from meetbridge.conferencing.lifecycle import SyncOutcome
    from meetbridge.services import Services


def job_handlers(
    services: Services,
) -> dict[str, Callable[[dict[str, Any]], Awaitable[SyncOutcome]]]:
    """Job kind -> handler, for the worker's table."""
    return {
        outbox.DELIVER_MESSAGE: partial(delivery.deliver_message, services),
        connection_notices.CONNECTION_NOTICE: partial(connection_notices.send_notice, services),
        connection_notices.CONNECTION_REMINDER: partial(connection_notices.send_reminder, services),
    }
