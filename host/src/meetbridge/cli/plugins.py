"""``meetbridge plugins``: what is installed (``--json`` is a stable interface), and the
author's and operator's tools: ``new`` (scaffold a plugin project), ``install``, ``uninstall``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from meetbridge.cli.common import fail

if TYPE_CHECKING:
    from meetbridge.plugin_kit.installer import Listing


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (stable interface).")
@click.option(
    "--all", "show_all", is_flag=True, help="Also list plugins that failed to load or are blocked."
)
@click.pass_context
def plugins(ctx: click.Context, as_json: bool, show_all: bool) -> None:
    """List installed plugins: name, distribution, version, hooks, providers.

    Subcommands scaffold a new plugin project and install or remove plugin packages.
    """
    if ctx.invoked_subcommand is not None:
        return
    from meetbridge.plugins import get_plugin_host

    host = get_plugin_host()
    rows = [dict(r.as_dict(), status="loaded") for r in host.records()]
    if show_all:
        rows += [
            {
                "name": f.name,
                "distribution": f.distribution,
                "version": None,
                "hooks": [],
                "providers": [],
                "status": "failed",
                "error": f.error,
            }
            for f in host.failures
        ]
        rows += [
            {
                "name": name,
                "distribution": None,
                "version": None,
                "hooks": [],
                "providers": [],
                "status": "blocked",
            }
            for name in host.blocked
        ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("name", "distribution", "version", "providers", "hooks", "status")
    for row in rows:
        table.add_row(
            row["name"],
            row["distribution"] or "-",
            row["version"] or "-",
            ", ".join(row["providers"]),
            ", ".join(row["hooks"]),
            row["status"] if "error" not in row else f"failed: {row['error']}",
        )
    Console().print(table)


def _installed_provider_names() -> frozenset[str]:
    from meetbridge.plugins import get_plugin_host

    return frozenset(get_plugin_host().providers())


@plugins.command("new")
@click.argument("name")
@click.option(
    "--directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to create the project (default: ./meetbridge-NAME).",
)
def new(name: str, directory: Path | None) -> None:
    """Create a plugin project for provider NAME, with stub hooks and the conformance suite."""
    from meetbridge.plugin_kit.scaffold import ScaffoldError, create_project

    try:
        names, target, written = create_project(name, directory, taken=_installed_provider_names())
    except ScaffoldError as exc:
        fail(str(exc))
    click.echo(f"Created {names.distribution} (provider {names.provider!r}) in {target}:")
    for path in written:
        click.echo(f"  {path}")
    click.echo(
        "Next:\n"
        f"  meetbridge plugins install --editable {target}\n"
        f"  cd {target} && pytest    # the conformance suite: it fails until the hooks are"
        " written\n"
        "Read docs/plugins/tutorial.md for a complete plugin built step by step."
    )


@plugins.command("install")
@click.argument("packages", nargs=-1, required=True)
@click.option("-e", "--editable", is_flag=True, help="Install local project directories editable.")
@click.option("-U", "--upgrade", is_flag=True, help="Upgrade packages already installed.")
def install(packages: tuple[str, ...], editable: bool, upgrade: bool) -> None:
    """Install plugin PACKAGES into the environment meetbridge runs in."""
    from meetbridge.plugin_kit import installer

    try:
        command = installer.installer_command(
            "install", packages, editable=editable, upgrade=upgrade
        )
        click.echo("$ " + " ".join(command))
        listing = installer.run(command, before=_installed_provider_names())
    except installer.InstallerError as exc:
        fail(str(exc))
    _report(listing, "new")


@plugins.command("uninstall")
@click.argument("packages", nargs=-1, required=True)
def uninstall(packages: tuple[str, ...]) -> None:
    """Remove plugin PACKAGES from the environment meetbridge runs in."""
    from meetbridge.plugin_kit import installer

    try:
        command = installer.installer_command("uninstall", packages)
        click.echo("$ " + " ".join(command))
        listing = installer.run(command, before=_installed_provider_names())
    except installer.InstallerError as exc:
        fail(str(exc))
    _report(listing, "removed")


def _report(listing: Listing, change: str) -> None:
    if listing.after is None:
        click.echo("Done. Run `meetbridge plugins` to see what is installed now.")
        return
    changed = listing.added if change == "new" else listing.removed
    click.echo(f"Providers now installed: {', '.join(sorted(listing.after)) or 'none'}.")
    if changed:
        click.echo(f"{change.capitalize()}: {', '.join(changed)}.")
    elif change == "new":
        click.echo(
            "No provider was added: the package brings no meetbridge plugin (entry-point"
            " group 'meetbridge'), or it was installed already."
        )
    else:
        click.echo("No provider was removed.")
    click.echo("Restart `meetbridge serve` and workers to pick up the change.")
