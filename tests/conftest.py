"""Shared fixtures for the host tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.world import World, build_world


@pytest.fixture
def world(meetbridge_settings: Any) -> Iterator[World]:
    w = build_world(meetbridge_settings)
    yield w
    w.services.close()
