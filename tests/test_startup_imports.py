"""Start-up cost: listing the plugins must not import what only provider calls need.

``import httpx`` alone costs about a quarter of a second (it imports its own command line,
with rich, click and pygments), so the plugins import it where they send requests, never
while they are loaded and described.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

# What `meetbridge plugins --json` does, then the modules it left imported.
_LIST_PLUGINS = """
import json, sys
from meetbridge.cli import main

sys.argv = ["meetbridge", "plugins", "--json"]
try:
    main()
except SystemExit as exc:
    assert not exc.code, exc.code
print(json.dumps({"httpx": "httpx" in sys.modules}))
"""


def test_plugins_listing_does_not_import_httpx(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEETBRIDGE_")}
    proc = subprocess.run(
        [sys.executable, "-c", _LIST_PLUGINS],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    listing, _, loaded = proc.stdout.rstrip().rpartition("\n")
    names = {row["name"] for row in json.loads(listing)}
    assert {"zoom", "google_meet", "teams"} <= names
    assert json.loads(loaded) == {"httpx": False}, "httpx was imported while listing plugins"
