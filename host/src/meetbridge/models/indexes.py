"""Indexes added for speed on tables defined elsewhere (migration ``0003_perf``).

Kept apart so the modules that own the tables stay as they are; SQLAlchemy attaches each
index to its table's metadata, so ``Base.metadata`` (and the models-equal-migrations test)
sees them like any other. Why each exists is measured in docs/performance.md.
"""

from __future__ import annotations

from sqlalchemy import Index

from meetbridge.models.scheduling import Booking, BookingHost

# Busy time in a date range (slots, the free-slot check of every booking): the bookings that
# start in the range, whatever the size of the history (scheduling/availability.py).
ix_bookings_start = Index("ix_bookings_start", Booking.start_at)

# A booking's hosts: loading a booking (selectinload of Booking.hosts), joining busy bookings
# to their hosts, and the foreign key's ON DELETE CASCADE all look rows up by booking_id;
# without it each of those scans the whole table.
ix_booking_hosts_booking = Index("ix_booking_hosts_booking", BookingHost.booking_id)
