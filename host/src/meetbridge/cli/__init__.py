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
    "config": "meetbridge.cli.config:config",
    "db": "meetbridge.cli.database:db",
    "keys": "meetbridge.cli.keys:keys",
    "plugins": "meetbridge.cli.plugins:plugins",
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
    "config": "Show the effective settings (secrets masked).",
    "db": "Create or upgrade the database schema.",
    "keys": "Generate encryption keys and rotate stored secrets.",
    "plugins": "List installed conferencing plugins.",
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
