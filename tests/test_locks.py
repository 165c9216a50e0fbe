"""Named locks: one holder per name across processes, names independent, no pool drain."""

from __future__ import annotations

import pytest

from meetbridge.conferencing.locks import LockTimeout, NamedLocks
from tests.world import World


async def test_a_name_has_one_holder_across_processes_and_names_are_independent(
    world: World,
) -> None:
    # A second NamedLocks has its own lock connection (PostgreSQL) or file descriptors
    # (SQLite): to the database it is another process.
    here, elsewhere = world.services.locks, NamedLocks(world.services)
    try:
        async with here.hold("booking:1"), here.hold("booking:2"):
            with pytest.raises(LockTimeout):
                async with elsewhere.hold("booking:1", wait_limit=0.1):
                    pass
            async with elsewhere.hold("booking:3", wait_limit=0.1):
                pass
        async with elsewhere.hold("booking:1", wait_limit=1.0), elsewhere.hold("booking:2"):
            pass
    finally:
        elsewhere.close()


async def test_holding_locks_takes_no_connection_from_the_pool(world: World) -> None:
    engine = world.services.engine
    assert engine is not None
    if engine.dialect.name != "postgresql":
        pytest.skip("advisory locks are PostgreSQL's; SQLite locks a file")
    locks = world.services.locks
    async with locks.hold("warm-up"):  # opens the process's lock connection
        pass
    in_use = engine.pool.checkedout()
    async with locks.hold("a"), locks.hold("b"), locks.hold("c"):
        assert engine.pool.checkedout() == in_use
    world.services.locks.close()
    assert engine.pool.checkedout() == in_use - 1
