"""The fault campaign: real plugins and sandboxes over HTTP, faults injected, invariants checked.

Run it at CI size with ``uv run pytest tests/chaos``, or at any size with
``uv run python -m tests.chaos.campaign --bookings 2000`` (see docs/reliability.md).
"""
