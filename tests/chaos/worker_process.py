"""A worker process of the campaign: ``python -m tests.chaos.worker_process CONFIG``.

The host's worker (:class:`~meetbridge.jobs.worker.Worker`, recording its executions) on the
campaign's database and clock. CONFIG is the JSON file written by ``Stage.process_config``:
the settings (database, key, provider endpoints), the clock file and the run directory.
SIGTERM stops it cleanly; the campaign also SIGKILLs it, which is the point.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from pathlib import Path

from tests.chaos.processes import services_from_config
from tests.chaos.workers import RecordingWorker


async def main(config_path: Path, concurrency: int) -> None:
    services, config = services_from_config(config_path)
    log = Path(config["run_dir"]) / f"executions-{os.getpid()}.jsonl"
    worker = RecordingWorker(services, log_path=log)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        await worker.run_forever(stop, poll_seconds=0.05, concurrency=concurrency)
    finally:
        worker.close_log()
        await services.aclose()
        services.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("config", type=Path)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    asyncio.run(main(args.config, args.concurrency))
