"""Fixtures for the campaign and scenario tests: a stage on the test database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.chaos.scenario import Scenario
from tests.chaos.stage import open_stage


@pytest.fixture
async def scenario(meetbridge_database_url: str, tmp_path: Path) -> AsyncIterator[Scenario]:
    """The campaign's organisation, connected to the three sandboxes, with no faults armed."""
    async with open_stage(meetbridge_database_url, tmp_path, http_timeout=0.3) as stage:
        scenario = Scenario(stage)
        yield scenario
        scenario.close()
