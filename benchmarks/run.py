"""meetbridge's performance benchmarks: one command, a table and a JSON document.

    uv run python benchmarks/run.py            # the full run (a few minutes)
    uv run python benchmarks/run.py --quick    # small sizes (under a minute; CI smoke test)
    uv run python benchmarks/run.py --json     # the JSON document only, on stdout

Each benchmark runs in a child process of its own (a fresh interpreter, so the pipeline's peak
RSS is its own and no rate limiter or cache leaks from one to the next), against its own Zoom
sandbox on 127.0.0.1 and its own database: a SQLite file, and a PostgreSQL database created
and dropped on the server named by ``MEETBRIDGE_DATABASE_URL`` when that is PostgreSQL.
What each figure means is in the docstring of its module and in docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import postgres_server_url

HERE = Path(__file__).resolve().parent
CHILD_TIMEOUT_SECONDS = 600

QUICK = {
    "pipeline": {"bookings": 40, "concurrency": 10},
    "pipeline_p2": {"bookings": 40, "concurrency": 10, "processes": 2},
    "pipeline_c1": None,
    "saturation": {"bookings": 60, "concurrency": 40},
    "refresh": {"concurrency": 5},
    "slots": {"sizes": "1000,3000", "calls": 3},
    "startup": {"runs": 2},
}
FULL = {
    "pipeline": {"bookings": 500, "concurrency": 10},
    # The same bookings shared by two host processes (as `serve` + `worker`, or two workers).
    "pipeline_p2": {"bookings": 500, "concurrency": 10, "processes": 2},
    "pipeline_c1": {"bookings": 100, "concurrency": 1},
    "saturation": {"bookings": 1000, "concurrency": 40},
    "refresh": {"concurrency": 20},
    "slots": {"sizes": "1000,10000,100000", "calls": 20},
    "startup": {"runs": 7},
}


def child(module: str, **options: Any) -> dict[str, Any]:
    """Run ``benchmarks/<module>.py`` with ``--option=value`` arguments; its JSON result."""
    cmd = [sys.executable, str(HERE / f"{module}.py")]
    cmd += [f"--{k.replace('_', '-')}={v}" for k, v in options.items()]
    started = time.perf_counter()
    proc = subprocess.Popen(  # noqa: S603 - our own modules, fixed arguments
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        stdout, stderr = proc.communicate(timeout=CHILD_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        proc.terminate()  # SIGTERM: the child drops its database and stops its sandbox
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
        return {"error": f"timed out after {CHILD_TIMEOUT_SECONDS}s", "command": " ".join(cmd)}
    lines = stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (stderr or stdout).strip().splitlines()[-5:]
        return {"error": " | ".join(tail) or f"exit {proc.returncode}", "command": " ".join(cmd)}
    result = json.loads(lines[-1])
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def machine() -> dict[str, Any]:
    mem_kib = 0
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def run_all(quick: bool) -> dict[str, Any]:
    plan = QUICK if quick else FULL
    databases = ["sqlite"] + (["postgresql"] if postgres_server_url() else [])
    report: dict[str, Any] = {"mode": "quick" if quick else "full", "machine": machine()}
    report["pipeline"] = [child("pipeline", db=db, **plan["pipeline"]) for db in databases]
    report["pipeline"] += [child("pipeline", db=db, **plan["pipeline_p2"]) for db in databases]
    if plan["pipeline_c1"]:
        report["pipeline"] += [child("pipeline", db=db, **plan["pipeline_c1"]) for db in databases]
    report["saturation"] = child("saturation", **plan["saturation"])
    report["refresh_storm"] = child("refresh_storm", **plan["refresh"])
    report["slots"] = [child("slots", db=db, **plan["slots"]) for db in databases]
    report["startup"] = child("startup", **plan["startup"])
    first = report["pipeline"][0]
    report["memory"] = {
        "pipeline_peak_rss_mib": first.get("peak_rss_mib"),
        "rss_before_timed_run_mib": first.get("rss_before_timed_run_mib"),
        "database": first.get("database"),
    }
    report["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return report


# -- the table --------------------------------------------------------------------------------
def _sql(row: dict[str, Any]) -> str:
    """SQL statements / commits per booking, as the pipeline counted them."""
    sql = row.get("sql_per_booking") or {}
    return f"{sql.get('statements', '?')}/{sql.get('commits', '?')}"


def _floor(row: dict[str, Any]) -> str:
    f = row.get("floor") or {}
    if not f:
        return ""
    return f"{f['per_s']:>8}{f['ratio']:>7}{f['cpu_ms_per_item']:>8}"


def table(report: dict[str, Any]) -> str:
    m = report["machine"]
    out = [
        f"meetbridge benchmarks ({report['mode']}): {m['nproc']} CPUs, {m['memory_gib']} GiB,"
        f" Python {m['python']}, SQLite {m['sqlite']}, load {m['loadavg_at_start']}"
        f" -> {m['loadavg_at_end']}",
        "",
        "Pipeline throughput (bookings vs bare httpx creates, same sandbox and concurrency;"
        " P host processes)",
        f"  {'db':<11}{'N':>6}{'C':>4}{'P':>3}  {'base/s':>8}{'mb/s':>8}{'ratio':>7}"
        f"  {'base p50/p99 ms':>16}  {'mb p50/p99 ms':>16}  {'cpu ms/booking':>14}"
        f"  {'sql/commits':>11}  errors  {'floor/s':>8}{'ratio':>7}{'cpu ms':>8}",
    ]
    for row in report["pipeline"]:
        if "error" in row:
            out.append(f"  error: {row['error']}")
            continue
        b, mb = row["baseline"], row["meetbridge"]
        out.append(
            f"  {row['database']:<11}{row['bookings']:>6}{row['concurrency']:>4}"
            f"{row.get('processes', 1):>3}  {b['per_s']:>8}{mb['per_s']:>8}{row['ratio']:>7}"
            f"  {b['p50_ms']:>7}/{b['p99_ms']:<8}  {mb['p50_ms']:>7}/{mb['p99_ms']:<8}"
            f"  {mb['cpu_ms_per_item']:>14}  {_sql(row):>11}  {mb['errors']:>6}"
            f"  {_floor(row)}"
        )
    out.append(
        "  (floor: the same creates wrapped in only the writes any durable host must make,"
        " two transactions of SQLAlchemy Core; see benchmarks/pipeline.py)"
    )
    s = report["saturation"]
    out += ["", "Rate-limit saturation (one Zoom Pro account, creates limited per second)"]
    if "error" in s:
        out.append(f"  error: {s['error']}")
    else:
        out.append(
            f"  {s['bookings']} bookings, C={s['concurrency']}: {s['achieved_per_s']}/s of"
            f" {s['limit_per_s']}/s = {s['achieved_over_limit']}; failed {s['bookings_failed']};"
            f" 429s at Zoom {s['sandbox_429s']}; bookings with a 429 error"
            f" {s['bookings_with_429_error']}; peak creates in 1 s {s['peak_creates_in_1s']}"
        )
    r = report["refresh_storm"]
    out += ["", "Refresh storm (C concurrent bookings, one host, token just expired)"]
    if "error" in r:
        out.append(f"  error: {r['error']}")
    else:
        for name in ("fresh", "expired", "rejected"):
            row = r[name]
            added = f", added p50 {row['added_p50_ms']} ms" if "added_p50_ms" in row else ""
            out.append(
                f"  {name:<9} C={r['concurrency']}: refresh calls {row['refresh_calls']},"
                f" failed {row['bookings_failed']}, p50 {row['p50_ms']} ms,"
                f" max {row['max_ms']} ms{added}"
            )
    out += ["", "Slots at scale (30-day window, 5 hosts; ms per call, median / p95)"]
    for row in report["slots"]:
        if "error" in row:
            out.append(f"  error: {row['error']}")
            continue
        sizes = "  ".join(
            f"{x['bookings']:>7}: {x['median_ms']}/{x['p95_ms']}" for x in row["sizes"]
        )
        out.append(
            f"  {row['database']:<11}{sizes}  (growth x{row['growth_largest_over_smallest']})"
        )
    st = report["startup"]
    out += ["", "Start-up (median wall time)"]
    if "error" in st:
        out.append(f"  error: {st['error']}")
    else:
        out.append(
            f"  python -c pass {st['python_c_pass_ms']} ms; meetbridge --help"
            f" {st['meetbridge_help_ms']} ms (+{st['help_added_ms']}); meetbridge plugins"
            f" {st['meetbridge_plugins_ms']} ms (+{st['plugins_added_ms']})"
        )
    mem = report["memory"]
    out += [
        "",
        f"Peak memory of the pipeline run ({mem['database']}): {mem['pipeline_peak_rss_mib']} MiB"
        f" RSS ({mem['rss_before_timed_run_mib']} MiB before the timed run)",
    ]
    return "\n".join(out)


def errors_in(report: dict[str, Any]) -> list[str]:
    found = []
    for key in ("pipeline", "saturation", "refresh_storm", "slots", "startup"):
        items = report[key] if isinstance(report[key], list) else [report[key]]
        found += [f"{key}: {item['error']}" for item in items if "error" in item]
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (under a minute)")
    parser.add_argument("--json", action="store_true", help="print only the JSON document")
    parser.add_argument("--output", help="also write the JSON document to this file")
    args = parser.parse_args(argv)
    report = run_all(args.quick)
    document = json.dumps(report, indent=2)
    if args.output:
        Path(args.output).write_text(document + "\n")
    print(document if args.json else table(report))
    failures = errors_in(report)
    for failure in failures:
        print(f"benchmark failed: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
