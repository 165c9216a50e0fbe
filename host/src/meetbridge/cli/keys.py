"""``meetbridge keys``: encryption keys for stored tokens, and rotating to a new one."""

from __future__ import annotations

import click

from meetbridge.cli.common import fail, load_settings_or_fail


@click.group()
def keys() -> None:
    """Manage the keys that encrypt tokens and host start links at rest."""


@keys.command("generate")
@click.option(
    "--add",
    is_flag=True,
    help="Put the new key first in the key file (it becomes the primary key).",
)
def generate(add: bool) -> None:
    """Generate a new key. Rotation: `keys generate --add`, `keys rotate`, then remove the
    old key from the file (or MEETBRIDGE_SECRET_KEYS)."""
    from meetbridge.vault import generate_key, load_keys, write_key_file

    key = generate_key()
    if not add:
        click.echo(key)
        return
    settings = load_settings_or_fail()
    if settings.secret_keys:
        fail(
            "keys come from MEETBRIDGE_SECRET_KEYS; put the new key first in that variable"
            " instead:\n" + key
        )
    path = settings.effective_key_file
    existing = load_keys(settings, create=False) if path.exists() else []
    write_key_file(path, [key, *existing])
    click.echo(
        f"Added a new primary key to {path} ({len(existing) + 1} keys). Now run"
        " `meetbridge keys rotate`."
    )


@keys.command("rotate")
def rotate() -> None:
    """Re-encrypt every stored secret with the primary (first) key."""
    from rich.progress import Progress

    from meetbridge.db import create_db_engine, session_factory
    from meetbridge.vault import VaultError, count_encrypted, rotate_all, vault_from_settings

    settings = load_settings_or_fail()
    try:
        vault = vault_from_settings(settings)
    except VaultError as exc:
        fail(str(exc))
    engine = create_db_engine(settings.effective_database_url)
    sessions = session_factory(engine)
    try:
        with sessions() as session, session.begin():
            total = count_encrypted(session)
            with Progress(transient=False) as progress:
                task = progress.add_task("Re-encrypting secrets", total=total)
                done = rotate_all(session, vault, lambda n: progress.advance(task, n))
    except VaultError as exc:
        fail(f"{exc} Nothing was changed.")
    finally:
        engine.dispose()
    click.echo(
        f"Re-encrypted {done} secrets with the primary key. Keys after the first can be"
        " removed once every process runs with the new key list."
    )
