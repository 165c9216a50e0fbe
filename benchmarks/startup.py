"""Start-up: ``meetbridge --help`` and ``meetbridge plugins`` against ``python -c pass``.

Each command runs several times in a fresh process (the installed ``meetbridge`` script of
this environment); the median wall time is reported, and how much each adds to a bare
interpreter start. ``--help`` must not load plugins or touch a database; ``plugins`` loads
them (entry points) and nothing else.

Run alone: ``uv run python benchmarks/startup.py --runs 7`` (prints JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import exit_cleanly_on_sigterm, median

RUN_TIMEOUT_SECONDS = 60


def wall_times(cmd: list[str], runs: int, cwd: str) -> list[float]:
    times = []
    env = {**os.environ, "MEETBRIDGE_DATA_DIR": str(Path(cwd) / "data")}
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(  # noqa: S603 - fixed commands of this environment
            cmd,
            cwd=cwd,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=RUN_TIMEOUT_SECONDS,
        )
        times.append(time.perf_counter() - started)
    return times


def measure(runs: int) -> dict:
    script = Path(sys.executable).with_name("meetbridge")
    commands = {
        "python_c_pass": [sys.executable, "-c", "pass"],
        "meetbridge_help": [str(script), "--help"],
        "meetbridge_plugins": [str(script), "plugins"],
    }
    out: dict[str, object] = {"runs": runs}
    with tempfile.TemporaryDirectory(prefix="meetbridge-bench-") as cwd:
        for name, cmd in commands.items():
            wall_times(cmd, 1, cwd)  # warm the file cache
            out[f"{name}_ms"] = round(median(wall_times(cmd, runs, cwd)) * 1000, 1)
    base = float(out["python_c_pass_ms"])  # type: ignore[arg-type]
    out["help_added_ms"] = round(float(out["meetbridge_help_ms"]) - base, 1)  # type: ignore[arg-type]
    out["plugins_added_ms"] = round(float(out["meetbridge_plugins_ms"]) - base, 1)  # type: ignore[arg-type]
    return out


def main(argv: list[str] | None = None) -> None:
    exit_cleanly_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.runs)))


if __name__ == "__main__":
    main()
