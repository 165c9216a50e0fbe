"""The fault campaign: real plugins and sandboxes over HTTP, faults injected, invariants checked.

Run it at CI size with ``uv run pytest tests/chaos``, or at any size with
``uv run python -m tests.chaos.campaign --bookings 2000`` (see docs/reliability.md). The CI
run also scans everything meetbridge wrote for the secrets the sandboxes issued
(:mod:`tests.chaos.secrets`, ``--scan-secrets`` on the command line; see docs/security.md).
"""
