"""Scheduling: meeting types, availability and slots, host assignment, bookings."""
