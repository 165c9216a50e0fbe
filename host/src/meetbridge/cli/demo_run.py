"""Setting the stage for ``meetbridge demo``: its own settings and database, the sandboxes,
the people, the server on a free port, a stand-in for the platform; then the story plays."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from meetbridge.cli.demo_story import ADMIN, MEMBER, ORG, DemoFailed, Story


def _receiver() -> tuple[Any, list[tuple[dict[str, str], bytes]]]:
    """A stand-in for the platform's webhook endpoint: it keeps what it receives."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    received: list[tuple[dict[str, str], bytes]] = []

    async def events(request: Request) -> Response:
        received.append(({k.lower(): v for k, v in request.headers.items()}, await request.body()))
        return Response(status_code=204)

    return Starlette(routes=[Route("/events", events, methods=["POST"])]), received


async def run(directory: Path, console: Console) -> None:
    from meetbridge import db
    from meetbridge.plugins import build_plugin_host
    from meetbridge.services import Services
    from meetbridge.settings import Settings
    from meetbridge.testing.server import free_port, serve_in_thread
    from meetbridge.web import create_app
    from meetbridge.web.sandbox import build_sandboxes, sandbox_settings

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    plugins = build_plugin_host(env={})
    missing = [p for p in ("zoom", "google_meet") if p not in plugins.providers()]
    if missing:
        raise DemoFailed(
            "setup", f"the demo needs the {', '.join(missing)} plugin(s); run `uv sync`."
        )
    settings = Settings(
        env="development",
        data_dir=directory,
        database_url=f"sqlite:///{directory / 'meetbridge.sqlite3'}",
        secret_keys=[],
        key_file=directory / "secret.keys",
        base_url=base,
        email={"transport": "file", "directory": str(directory / "emails")},
        web={"embedded_worker": False, "session_secret": ""},
    )
    db.upgrade(settings.effective_database_url)
    mounts = build_sandboxes(plugins, base)
    settings = sandbox_settings(settings, mounts)
    services = Services(settings=settings, plugins=plugins)
    logins = _seed(services)
    console.rule("[bold]meetbridge demo")
    console.print(
        f"meetbridge at {base}, with the Zoom, Google and Microsoft sandboxes under /sandbox/."
        f"\nData in {directory} (SQLite, key file, emails). Everything runs on this machine."
    )
    receiver, received = _receiver()
    background = Services(settings=settings, plugins=plugins)  # the demo's own event loop
    try:
        with (
            serve_in_thread(create_app(services, sandboxes=mounts), port=port),
            serve_in_thread(receiver) as receiver_url,
        ):
            story = Story(
                console,
                base,
                {m.provider: m for m in mounts},
                logins,
                (receiver_url, received),
                lambda: _deliver(background),
            )
            try:
                await story.play()
            finally:
                await story.close()
        _where_emails_went(console, settings, background)
        console.rule()
        console.print(
            f"[bold green]Demo complete:[/] {story.checks} checks passed in {story.number} steps."
            "\nSee it in a browser: [bold]uv run meetbridge serve --sandbox[/]"
        )
    finally:
        await background.aclose()
        background.close()
        services.close()


def _seed(services: Any) -> dict[str, str]:
    from meetbridge.accounts import create_account
    from meetbridge.directory import get_or_create_organization
    from meetbridge.models import Role

    logins = {}
    with services.sessions() as session, session.begin():
        org = get_or_create_organization(session, ORG)
        for (email, name), role in ((ADMIN, Role.ADMIN), (MEMBER, Role.MEMBER)):
            password = secrets.token_urlsafe(12)
            create_account(session, org, email, password=password, role=role, name=name)
            logins[email] = password
    return logins


async def _deliver(services: Any) -> str:
    """Run the due background jobs (the worker's work) and send the outbox now."""
    from meetbridge.jobs.worker import Worker

    worker = Worker(services)
    ran = await worker.drain()
    try:
        from meetbridge.notifications.delivery import send_now
    except ImportError:
        return f"the worker ran {ran} due jobs"
    summary = await send_now(services, worker)  # anything still waiting for a retry
    waiting = f", {summary.waiting} waiting for a retry" if summary.waiting else ""
    return f"the worker ran {ran} due jobs (emails and webhooks among them){waiting}"


def _where_emails_went(console: Console, settings: Any, services: Any) -> None:
    from sqlalchemy import select

    from meetbridge.models import OutboundMessage

    console.rule("[bold]Where the emails went")
    try:
        from meetbridge.notifications.transports import describe

        console.print(f"Email transport: {describe(settings)}")
    except ImportError:
        console.print(f"Email transport: {settings.email.transport}")
    table = Table("kind", "to", "status")
    with services.sessions() as session:
        for message in session.scalars(
            select(OutboundMessage)
            .where(OutboundMessage.channel == "email")
            .order_by(OutboundMessage.id)
        ):
            table.add_row(message.kind, message.recipient, str(message.status))
    console.print(table)
