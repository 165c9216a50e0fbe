"""``meetbridge plugins``: what is installed. The ``--json`` output is a stable interface."""

from __future__ import annotations

import json

import click


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (stable interface).")
@click.option(
    "--all", "show_all", is_flag=True, help="Also list plugins that failed to load or are blocked."
)
@click.pass_context
def plugins(ctx: click.Context, as_json: bool, show_all: bool) -> None:
    """List installed plugins: name, distribution, version, hooks, providers."""
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
