"""``meetbridge serve``: the web application on uvicorn, with an embedded worker."""

from __future__ import annotations

import click

from meetbridge.cli.common import build_services, fail, load_settings_or_fail


def _public_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 (a comparison)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--sandbox",
    is_flag=True,
    help="Mount the provider sandboxes at /sandbox/... and point the providers at them"
    " (offline; creates sign-in accounts and prints them).",
)
@click.option("--no-worker", is_flag=True, help="Do not run background jobs in this process.")
def serve(host: str, port: int, sandbox: bool, no_worker: bool) -> None:
    """Run the web application: pages, REST API (/api/v1), OAuth callbacks, webhooks.

    In development the database is upgraded on start. MEETBRIDGE_BASE_URL must be the
    address people use (OAuth redirect URIs are built from it); when it is not set, it is
    http://HOST:PORT.
    """
    import uvicorn

    from meetbridge import db
    from meetbridge.observability.logs import configure_from_settings

    settings = load_settings_or_fail()
    # JSON lines by default (MEETBRIDGE_LOG__FORMAT=text for a terminal); uvicorn's own
    # loggers propagate to the same handler (log_config=None below).
    configure_from_settings(settings)
    if "base_url" not in settings.model_fields_set:
        settings = settings.model_copy(update={"base_url": f"http://{_public_host(host)}:{port}"})
    if settings.env == "development":
        try:
            db.upgrade(settings.effective_database_url)
        except Exception as exc:
            fail(f"cannot upgrade the database: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    mounts = []
    if sandbox:
        from meetbridge.plugins import get_plugin_host
        from meetbridge.web.sandbox import build_sandboxes, sandbox_settings

        mounts = build_sandboxes(get_plugin_host(), settings.base_url)
        settings = sandbox_settings(settings, mounts)
    services = build_services(settings)
    from meetbridge.web import create_app

    if sandbox:
        _announce_sandbox(services, mounts)
    worker = not no_worker and settings.web.embedded_worker
    app = create_app(services, sandboxes=mounts, embedded_worker=worker)
    click.echo(
        f"meetbridge on {settings.base_url} (listening on {host}:{port};"
        f" worker {'embedded' if worker else 'off'}). Ctrl-C stops it."
    )
    try:
        uvicorn.run(
            app,
            host=host,
            port=port,
            access_log=False,  # meetbridge's own access log has the request id and redacts
            log_config=None,
            log_level=settings.log.level.lower(),
        )
    finally:
        services.close()


def _announce_sandbox(services: object, mounts: list) -> None:
    from meetbridge.web.sandbox_seed import seed_sandbox_people

    logins = seed_sandbox_people(services)  # type: ignore[arg-type]
    click.secho(
        "Sandbox mode: providers are emulated locally; nothing leaves this machine.", bold=True
    )
    for login in logins:
        click.echo(f"  sign in as {login.email} / {login.password} ({login.role})")
    for mount in mounts:
        accounts = ", ".join(mount.accounts[:4])
        click.echo(
            f"  {mount.label} sandbox at {mount.path}" + (f": {accounts}" if accounts else "")
        )
        for note in mount.notes:
            click.echo(f"    {note}")
