"""Jitsi Meet for meetbridge: each booking gets an unguessable room on a Jitsi server."""
