"""Notifications: messages to clients, hosts and admins, queued in the outbox."""
