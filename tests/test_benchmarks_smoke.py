"""The benchmarks still run: ``benchmarks/run.py --quick --json`` gives every figure.

Speed is never asserted here (benchmarks measure, tests check behaviour): only that each
benchmark ran, its figures are there with sane types, and the correctness figures the
benchmarks exist to watch hold (no failed booking, one token refresh for a storm, no 429
reaching a booking). The benchmarks talk only to servers they start on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "benchmarks" / "run.py"


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


@pytest.fixture(scope="module")
def report() -> dict:
    # SQLite only (PostgreSQL doubles the time; the full run covers it): no server URL.
    env = {k: v for k, v in os.environ.items() if k != "MEETBRIDGE_DATABASE_URL"}
    done = subprocess.run(
        [sys.executable, str(RUN), "--quick", "--json"],
        capture_output=True,
        text=True,
        timeout=170,
        env=env,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_the_machine_is_described(report: dict) -> None:
    machine = report["machine"]
    assert report["mode"] == "quick"
    assert isinstance(machine["nproc"], int) and machine["nproc"] >= 1
    assert _number(machine["memory_gib"]) and machine["python"].startswith("3.")
    assert len(machine["loadavg_at_start"]) == 3 and len(machine["loadavg_at_end"]) == 3


def test_pipeline_compares_bookings_with_bare_requests(report: dict) -> None:
    rows = report["pipeline"]
    # One host process, then the same bookings shared by two (started together).
    assert [row["processes"] for row in rows] == [1, 2]
    for row in rows:
        assert row["database"] == "sqlite" and row["concurrency"] >= 1
        for side in ("baseline", "meetbridge"):
            figures = row[side]
            assert figures["count"] == row["bookings"]
            for key in ("per_s", "p50_ms", "p99_ms", "wall_s", "cpu_ms_per_item"):
                assert _number(figures[key]), (side, key, figures[key])
            assert figures["p50_ms"] <= figures["p99_ms"] <= figures["max_ms"]
            assert figures["errors"] == 0, figures["first_error"]
        assert _number(row["ratio"]) and row["ratio"] > 0
        # Every booking got its meeting and its confirmation emails (booker and host).
        outcome = row["outcome"]
        assert outcome["meetings_provisioned"] == outcome["bookings"]
        assert outcome["confirmation_emails_queued"] == 2 * outcome["bookings"]
        assert _number(row["sql_per_booking"]["statements"])
        # The floor: the same requests with only the writes any durable host makes.
        floor = row["floor"]
        assert floor["count"] == row["bookings"] and floor["errors"] == 0, floor["first_error"]
        assert _number(floor["per_s"]) and _number(floor["ratio"])
        assert _number(floor["cpu_ms_per_item"])
    assert _number(report["memory"]["pipeline_peak_rss_mib"])


def test_saturation_reports_the_rate_and_no_429_reaches_a_booking(report: dict) -> None:
    s = report["saturation"]
    assert s["limit_per_s"] == 20 and s["creates_accepted"] == s["bookings"]
    assert _number(s["achieved_per_s"]) and _number(s["achieved_over_limit"])
    assert s["peak_creates_in_1s"] <= s["limit_per_s"]
    assert s["bookings_failed"] == 0 and s["bookings_with_429_error"] == 0


def test_a_refresh_storm_makes_one_refresh(report: dict) -> None:
    storm = report["refresh_storm"]
    assert storm["fresh"]["refresh_calls"] == 0
    for name in ("expired", "rejected"):
        assert storm[name]["refresh_calls"] == 1, name
        assert storm[name]["bookings_failed"] == 0, storm[name]["first_error"]
        assert isinstance(storm[name]["added_p50_ms"], int | float)


def test_slots_are_timed_at_each_size(report: dict) -> None:
    [row] = report["slots"]
    sizes = [x["bookings"] for x in row["sizes"]]
    assert sizes == sorted(sizes) and len(sizes) >= 2
    assert all(_number(x["median_ms"]) and _number(x["p95_ms"]) for x in row["sizes"])
    assert _number(row["growth_largest_over_smallest"])


def test_startup_is_compared_with_a_bare_interpreter(report: dict) -> None:
    st = report["startup"]
    for key in ("python_c_pass_ms", "meetbridge_help_ms", "meetbridge_plugins_ms"):
        assert _number(st[key]), key
    assert isinstance(st["help_added_ms"], int | float)
