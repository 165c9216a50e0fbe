"""Operational health: structured logs (:mod:`.logs`), Prometheus metrics (:mod:`.metrics`)
and the readiness checks behind ``/readyz`` (:mod:`.health`)."""
