"""The ``meetbridge`` command.

Subcommands live in their own modules and are imported only when used, so ``meetbridge
--help`` stays fast and never loads plugins or touches the database.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from meetbridge import __version__

# name -> "module:attribute"; a module per command group.
COMMANDS = {
    "availability": "meetbridge.cli.availability:availability",
    "bookings": "meetbridge.cli.bookings:bookings",
    "config": "meetbridge.cli.config:config",
    "db": "meetbridge.cli.database:db",
    "demo": "meetbridge.cli.demo:demo",
    "jobs": "meetbridge.cli.jobs:jobs",
    "keys": "meetbridge.cli.keys:keys",
    "meeting-types": "meetbridge.cli.meeting_types:meeting_types",
    "outbox": "meetbridge.cli.outbox:outbox",
    "plugins": "meetbridge.cli.plugins:plugins",
    "serve": "meetbridge.cli.serve:serve",
    "users": "meetbridge.cli.users:users",
    "worker": "meetbridge.cli.worker:worker",
}


class LazyGroup(click.Group):
    def __init__(self, *args: Any, lazy: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            module, attr = self.lazy[cmd_name].split(":")
            return getattr(importlib.import_module(module), attr)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Short help without importing every command module.
        rows = [(name, SHORT_HELP.get(name, "")) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


SHORT_HELP = {
    "availability": "Set or show a host's weekly hours.",
    "bookings": "List, explain, cancel and reprovision bookings.",
    "config": "Show the effective settings (secrets masked).",
    "db": "Create or upgrade the database schema.",
    "demo": "Run the whole story offline against the provider sandboxes.",
    "jobs": "List background jobs and retry dead ones.",
    "keys": "Generate encryption keys and rotate stored secrets.",
    "meeting-types": "Create and list meeting types.",
    "outbox": "List outgoing emails and webhooks, retry dead ones.",
    "plugins": "List, scaffold, install and uninstall conferencing plugins.",
    "serve": "Run the web application (and an embedded worker).",
    "users": "Create users and manage roles.",
    "worker": "Run background jobs (conferencing, emails, webhooks).",
}


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from meetbridge.plugins import get_plugin_host

    click.echo(f"meetbridge {__version__}")
    for record in get_plugin_host().records():
        click.echo(f"  plugin {record.name} {record.version or ''} ({record.distribution or '-'})")
    ctx.exit()


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version and installed plugins.",
)
def main() -> None:
    """meetbridge: video meetings on scheduled bookings.

    Settings come from MEETBRIDGE_* environment variables and an optional meetbridge.toml
    (see `meetbridge config show`).
    """
