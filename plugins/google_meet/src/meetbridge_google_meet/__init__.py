"""Conferencing provider plugin for meetbridge."""
