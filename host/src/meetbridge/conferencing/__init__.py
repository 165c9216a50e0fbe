"""Conferencing: provider contexts, credentials and token refresh, connections, the lifecycle."""
