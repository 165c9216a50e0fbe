"""What another OS process of a run needs: the run's services, and a common start.

Kept light (no sandboxes, no test helpers): worker and task processes import it at start-up.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from meetbridge.services import Services
from meetbridge.settings import Settings
from tests.chaos.clock import OffsetClock


def services_from_config(path: Path) -> tuple[Services, dict[str, Any]]:
    """The services another process of the run uses (written by :meth:`Stage.process_config`)."""
    config = json.loads(path.read_text())
    services = Services(
        settings=Settings(**config["settings"]), clock=OffsetClock(Path(config["clock"]))
    )
    return services, config


def ready_then_wait(go: Path | None, limit: float = 60.0) -> None:
    """Say "ready" on stdout, then wait until the ``go`` file exists: every process of a
    race starts its work at the same moment, however long each one took to start."""
    if go is None:
        return
    print("ready", flush=True)
    deadline = time.monotonic() + limit
    while not go.exists():
        if time.monotonic() > deadline:
            sys.exit("never told to go")
        time.sleep(0.005)
