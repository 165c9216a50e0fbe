"""Crash safety: worker processes SIGKILLed at random moments during the campaign, restarted.

The same invariants hold, and every job a killed worker had claimed is taken over by another
once its lease runs out (the lease is 5 s here: MEETBRIDGE_JOB_LEASE_SECONDS).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from meetbridge.testing.database import configured_url, is_postgres
from tests.chaos.campaign import CampaignConfig, run_campaign

ON_POSTGRES = is_postgres(configured_url())


@pytest.mark.skipif(
    ON_POSTGRES, reason="on PostgreSQL, test_scaleout.py kills three workers instead of one"
)
async def test_sigkilled_workers_lose_nothing_and_make_nothing_twice(
    meetbridge_database_url: str, tmp_path: Path
) -> None:
    report = await run_campaign(
        CampaignConfig(
            bookings=50,
            seed=11,
            database_url=meetbridge_database_url,
            fresh_database=False,
            workdir=tmp_path,
            workers=1,
            kills=4,
            drain_seconds=90,
        )
    )
    print(report.table())
    assert report.kills >= 3  # three during the operations, one more if the drain ran long
    assert report.recovery_seconds, "no kill hit a running job"
    assert max(report.recovery_seconds) < 5 + 5  # the lease, plus a worker's restart
    assert not report.failures(), report.table()
