"""The fault campaign at CI size: every invariant holds after faults of every kind.

The larger runs use the same code: ``uv run python -m tests.chaos.campaign --bookings 2000``
(see docs/reliability.md).
"""

from __future__ import annotations

from pathlib import Path

from tests.chaos.campaign import CampaignConfig, run_campaign

# Every way a provider call fails that the sandboxes can inject.
FAULT_KINDS = {
    "5xx",
    "503_retry_after",
    "timeout_after_acting",
    "reset_before",
    "reset_after_acting",
    "rate_limit_qps",
    "rate_limit_daily",
    "revoke_grant",
}


async def test_the_fault_campaign_holds_every_invariant(
    meetbridge_database_url: str, tmp_path: Path
) -> None:
    report = await run_campaign(
        CampaignConfig(
            bookings=80,
            seed=7,
            database_url=meetbridge_database_url,
            fresh_database=False,
            workdir=tmp_path,
            drain_seconds=90,
            scan_secrets=True,
        )
    )
    print(report.table())  # the invariant table, in the CI log (pytest -s, or on failure)
    assert report.ok, report.table()
    assert report.counts["bookings made"] >= 60
    assert report.counts["reschedules"] >= 20 and report.counts["cancellations"] >= 15
    assert report.counts["reschedules reassigning the host"] >= 1
    assert set(report.faults) >= FAULT_KINDS, f"not every fault fired: {report.faults}"
    # A floor, not a target: how many armed faults meet a request depends on which operations
    # the seed's schedule reaches (slots differ with the hour it runs); every kind firing is
    # the guarantee, checked just above. (Runs fire 26 to 60 at this size; the pipeline's
    # timing changes which armed faults a request meets first.)
    assert sum(report.faults.values()) >= 2 * len(FAULT_KINDS)
    assert report.counts["zoom deauthorization webhooks"] == 1
    assert report.counts["webhook replays refused"] == 1
    assert report.counts["grants revoked at zoom"] >= 1
    # The secrets scan ran over everything (its line in the table: 0 found, and how much
    # was scanned); a scan that looked at nothing would prove nothing.
    scan = report.secrets_scan
    assert scan is not None and not scan.findings
    assert min(scan.rows, scan.log_records, scan.messages, scan.pages, scan.secrets) > 0
