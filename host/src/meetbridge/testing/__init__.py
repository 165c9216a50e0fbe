"""Helpers for testing meetbridge and its plugins (also a pytest plugin: ``pytest11``)."""
