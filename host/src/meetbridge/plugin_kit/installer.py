"""``meetbridge plugins install/uninstall``: the package installer of the running environment.

Plugins must land in the environment meetbridge itself runs in, or meetbridge will not see
their entry points. So the installer is always pointed at ``sys.executable``: ``uv pip ...
--python <it>`` when uv is on the PATH (uv environments often have no pip at all), otherwise
``<it> -m pip ...``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Action = Literal["install", "uninstall"]


class InstallerError(RuntimeError):
    """The installer could not run or failed; the message says what happened."""


def installer_command(
    action: Action,
    packages: Sequence[str],
    *,
    editable: bool = False,
    upgrade: bool = False,
    python: str = sys.executable,
) -> list[str]:
    """The command line that installs (or removes) ``packages`` for ``python``."""
    if not packages:
        raise InstallerError("Name at least one package (or, with --editable, a directory).")
    uv = shutil.which("uv")
    command = [uv, "pip", action, "--python", python] if uv else [python, "-m", "pip", action]
    if action == "uninstall":
        if not uv:
            command.append("--yes")  # uv never asks; pip would wait for an answer
        return [*command, *packages]
    if upgrade:
        command.append("--upgrade")
    for package in packages:
        command += ["--editable", package] if editable else [package]
    return command


@dataclass(frozen=True)
class Listing:
    """Provider names before and after a change to the environment."""

    before: frozenset[str]
    after: frozenset[str] | None  # None: the new environment could not be listed

    @property
    def added(self) -> list[str]:
        return sorted((self.after or frozenset()) - self.before)

    @property
    def removed(self) -> list[str]:
        return sorted(self.before - self.after) if self.after is not None else []


def installed_providers(python: str = sys.executable) -> frozenset[str] | None:
    """Provider names as a fresh interpreter sees them (new .pth files included)."""
    proc = subprocess.run(  # noqa: S603 - our own interpreter and module, no shell
        [python, "-m", "meetbridge", "plugins", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        return None
    try:
        rows = json.loads(proc.stdout)
    except ValueError:
        return None
    return frozenset(provider for row in rows for provider in row.get("providers", []))


def run(
    command: Sequence[str],
    *,
    before: frozenset[str],
    python: str = sys.executable,
) -> Listing:
    """Run the installer in the foreground (its progress shows), then list the providers."""
    try:
        proc = subprocess.run(list(command), check=False)  # noqa: S603 - no shell
    except OSError as exc:
        raise InstallerError(f"Could not run {command[0]}: {exc}.") from None
    if proc.returncode != 0:
        raise InstallerError(
            f"The installer failed (exit code {proc.returncode}); its output above says why."
        )
    return Listing(before, installed_providers(python))
