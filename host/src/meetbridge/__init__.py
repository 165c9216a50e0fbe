"""meetbridge: video meetings on scheduled bookings."""

__version__ = "0.1.0"
