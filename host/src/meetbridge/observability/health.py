"""Readiness: can this process serve traffic? (``/readyz``; ``/healthz`` is liveness only.)

Three checks, each answering with a fixed, secret-free sentence (details go to the log):

``database``  the database answers ``SELECT 1``;
``schema``    its Alembic revision is the code's head (the head is read from the migration
              scripts once per process);
``vault``     an encryption key is loaded and encrypts and decrypts a probe, and the configured
              key source (``MEETBRIDGE_SECRET_KEYS`` or the key file) still yields a key.

Checks run in a worker thread with a time limit, at most one run of each at a time, so a
database that hangs makes ``/readyz`` answer 503 promptly instead of piling up threads.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from meetbridge.services import Services

log = logging.getLogger("meetbridge.health")

CHECK_TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    error: str = ""
    info: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": self.ok, **self.info}
        if self.error:
            body["error"] = self.error
        return body


@functools.cache
def expected_revision() -> str:
    """The migration head(s) the code expects (read once: it parses every migration script)."""
    from meetbridge.db import head_revision

    return head_revision()


def check_database(services: Services) -> dict[str, CheckResult]:
    """``database`` and ``schema``, on one pooled connection."""
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import text

    assert services.engine is not None
    try:
        with services.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            database = CheckResult(True)
            heads = MigrationContext.configure(conn).get_current_heads()
    except Exception as exc:
        log.warning("readiness: the database does not answer: %s", _describe(exc))
        return {
            "database": CheckResult(False, f"The database does not answer ({type(exc).__name__})."),
            "schema": CheckResult(False, "Not checked: the database does not answer."),
        }
    current = ",".join(sorted(heads))
    expected = expected_revision()
    info = {"revision": current or "none", "expected": expected}
    if current != expected:
        schema = CheckResult(
            False,
            f"The database schema is at {current or 'nothing'}, the code expects {expected}:"
            " run `meetbridge db upgrade`.",
            info,
        )
    else:
        schema = CheckResult(True, info=info)
    return {"database": database, "schema": schema}


def check_vault(services: Services) -> dict[str, CheckResult]:
    from meetbridge.vault import VaultError, load_keys

    vault = services.vault
    if vault is None:
        return {"vault": CheckResult(False, "No encryption key is loaded.")}
    probe = secrets.token_hex(8)
    try:
        usable = vault.decrypt(vault.encrypt(probe)) == probe
    except Exception as exc:
        log.warning("readiness: the vault failed its probe: %s", type(exc).__name__)
        usable = False
    if not usable:
        return {"vault": CheckResult(False, "The encryption key cannot encrypt and decrypt.")}
    try:
        load_keys(services.settings, create=False)
    except VaultError as exc:
        # The message names the key file and what to do; it never holds key material, but it
        # goes to the log, not to an unauthenticated response.
        log.warning("readiness: the configured key source is unusable: %s", exc)
        return {
            "vault": CheckResult(
                False, "The configured encryption key is missing or unusable (see the log)."
            )
        }
    return {"vault": CheckResult(True, info={"keys": str(vault.key_count)})}


def _describe(exc: BaseException) -> str:
    first = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {first}"[:300]


class Readiness:
    """The readiness checks of one app; ``await readiness.run()`` gives every check's result."""

    def __init__(self, services: Services, timeout: float = CHECK_TIMEOUT_SECONDS) -> None:
        self.services = services
        self.timeout = timeout
        self._running: dict[str, asyncio.Future[dict[str, CheckResult]]] = {}

    async def _single_flight(
        self,
        name: str,
        check: Callable[[Services], dict[str, CheckResult]],
        names: tuple[str, ...],
    ) -> dict[str, CheckResult]:
        running = self._running.get(name)
        if running is None or running.done():
            loop = asyncio.get_running_loop()
            running = loop.run_in_executor(None, check, self.services)
            self._running[name] = running
        try:
            return await asyncio.wait_for(asyncio.shield(running), self.timeout)
        except TimeoutError:
            log.warning("readiness: the %s check did not answer in %.0f s", name, self.timeout)
            message = f"No answer within {self.timeout:g} s."
            return {n: CheckResult(False, message) for n in names}
        except Exception as exc:  # a bug in a check must not hide the others
            log.exception("readiness: the %s check failed", name)
            message = f"The check failed ({type(exc).__name__})."
            return {n: CheckResult(False, message) for n in names}

    async def run(self) -> dict[str, CheckResult]:
        database, vault = await asyncio.gather(
            self._single_flight("database", check_database, ("database", "schema")),
            self._single_flight("vault", check_vault, ("vault",)),
        )
        return {**database, **vault}


def readiness_body(results: dict[str, CheckResult]) -> tuple[dict[str, Any], int]:
    """The ``/readyz`` JSON body and status code: 200 when every check passed, else 503."""
    failing = [name for name, result in results.items() if not result.ok]
    body: dict[str, Any] = {
        "status": "not_ready" if failing else "ready",
        "checks": {name: result.as_dict() for name, result in results.items()},
    }
    if failing:
        body["failing"] = failing
    return body, 503 if failing else 200
