"""``meetbridge config``: what the host will run with."""

from __future__ import annotations

import json

import click

from meetbridge.cli.common import load_settings_or_fail


@click.group()
def config() -> None:
    """Inspect the effective settings."""


@config.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def show(as_json: bool) -> None:
    """Print the effective settings with every secret masked."""
    from meetbridge.plugins import get_plugin_host

    settings = load_settings_or_fail()
    data = settings.masked()
    # What each installed provider will actually talk to (its defaults merged with overrides).
    data["effective_providers"] = {
        name: {
            "client_id": resolved.client_id,
            "client_secret": "***" if resolved.client_secret else "",
            "webhook_secret": "***" if resolved.webhook_secret else "",
            "redirect_uri": resolved.redirect_uri,
            "endpoints": dict(resolved.endpoints),
        }
        for name, info in sorted(get_plugin_host().providers().items())
        for resolved in [settings.provider(info)]
    }
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    from rich.console import Console
    from rich.pretty import Pretty

    Console().print(Pretty(data, expand_all=True))
