"""Notifications: emails with calendar invitations, alerts to hosts, feeds, delivery.

Where things are:

- ``messages``: who is told what about a booking (queued in the caller's transaction);
  ``connection_notices``: broken connections and the reminders until they are reconnected;
- ``views`` (what templates see), ``render`` + ``templates/`` (Jinja2, one layout in HTML and
  text), ``catalogue`` (the words, by locale), ``when`` (times in each reader's timezone);
- ``ics`` (invitations and feeds), ``feeds`` (per-user feed tokens);
- ``outbox`` (queueing), ``delivery`` (channels and the delivery job), ``mail`` (the email
  channel), ``transports`` (file, SMTP, console), ``jobs`` (the worker's handlers).
"""
