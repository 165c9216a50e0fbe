"""``meetbridge users``: accounts that sign in to the web application, and their roles."""

from __future__ import annotations

import click

from meetbridge.cli.common import build_services, echo_json, fail, run_async


@click.group()
def users() -> None:
    """Create users, list them, change roles. First run: `users create EMAIL --admin --prompt`."""


def _password(password: str | None, prompt: bool) -> str | None:
    if prompt:
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


@users.command("create")
@click.argument("email")
@click.option("--admin", is_flag=True, help="An organisation admin (default: member).")
@click.option("--password", default=None, help="The password (prefer --prompt: shell history).")
@click.option("--prompt", is_flag=True, help="Ask for the password without echoing it.")
@click.option("--timezone", default=None, help="IANA zone (default: the organisation's).")
@click.option("--name", default="", help="Display name (default: from the email).")
@click.option(
    "--organization",
    default=None,
    help="Organisation name (default: the existing one, or 'My organisation').",
)
def create(
    email: str,
    admin: bool,
    password: str | None,
    prompt: bool,
    timezone: str | None,
    name: str,
    organization: str | None,
) -> None:
    """Create a user who can sign in (weekday office hours as availability to start with)."""
    from meetbridge.accounts import AccountError, create_account
    from meetbridge.directory import default_organization, get_or_create_organization
    from meetbridge.models import Role

    secret = _password(password, prompt)
    services = build_services()
    try:
        with services.sessions() as session, session.begin():
            org = (
                get_or_create_organization(session, organization)
                if organization
                else default_organization(session)
            )
            user = create_account(
                session,
                org,
                email,
                password=secret,
                role=Role.ADMIN if admin else Role.MEMBER,
                name=name,
                timezone=timezone,
            )
            summary = f"{user.email} ({user.role}, {user.timezone}) in {org.name}"
    except (AccountError, ValueError) as exc:
        fail(str(exc))
    finally:
        services.close()
    click.echo(f"Created {summary}.")
    if secret is None:
        click.echo("No password set: give one with `meetbridge users set-password` to sign in.")


@users.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_(as_json: bool) -> None:
    """Every user: email, role, timezone, whether they can sign in."""
    from meetbridge.accounts import list_accounts

    services = build_services()
    try:
        with services.sessions() as session:
            rows = [
                {
                    "email": u.email,
                    "name": u.name,
                    "role": str(u.role),
                    "timezone": u.timezone,
                    "active": u.active,
                    "can_sign_in": bool(u.password_hash),
                    "organization_id": u.organization_id,
                }
                for u in list_accounts(session)
            ]
    finally:
        services.close()
    if as_json:
        echo_json(rows)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("email", "name", "role", "timezone", "can sign in")
    for row in rows:
        table.add_row(
            row["email"],
            row["name"],
            row["role"],
            row["timezone"],
            "yes" if row["can_sign_in"] else "no",
        )
    Console().print(table)


@users.command("set-role")
@click.argument("email")
@click.argument("role", type=click.Choice(["admin", "member"]))
def set_role_(email: str, role: str) -> None:
    """Make EMAIL an admin or a member (the last admin stays admin)."""
    from meetbridge.accounts import AccountError, set_role
    from meetbridge.models import Role

    services = build_services()
    try:
        with services.sessions() as session, session.begin():
            set_role(session, email, Role(role))
    except AccountError as exc:
        fail(str(exc))
    finally:
        services.close()
    click.echo(f"{email} is now {role}.")


@users.command("set-password")
@click.argument("email")
@click.option("--password", default=None)
@click.option("--prompt", is_flag=True, help="Ask for the password without echoing it.")
def set_password_(email: str, password: str | None, prompt: bool) -> None:
    """Set EMAIL's password (signs out their other sessions)."""
    from meetbridge.accounts import AccountError, set_password
    from meetbridge.directory import DirectoryError, user_by_email

    secret = _password(password, prompt)
    if not secret:
        fail("give --password or --prompt.")
    services = build_services()
    try:
        with services.sessions() as session, session.begin():
            set_password(session, user_by_email(session, email), secret)
    except (AccountError, DirectoryError) as exc:
        fail(str(exc))
    finally:
        services.close()
    click.echo(f"Password of {email} changed.")


@users.command("forget")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Print what was removed as JSON.")
@click.option(
    "--actor",
    default="cli",
    show_default=True,
    help="Who asked (recorded in the audit trail, e.g. your email).",
)
def forget(email: str, yes: bool, as_json: bool, actor: str) -> None:
    """Forget EMAIL: revoke their provider grants, remove or pseudonymise their data.

    Works for a member (account, connections and tokens: each grant is revoked at the
    provider, best effort) and for a client (their name and email on bookings and messages).
    Bookings and meetings stay, without saying who booked. The audit trail keeps one record
    that a deletion happened, naming the person only by a keyed hash. Running it again
    reports that there is nothing left to do.
    """
    from meetbridge.privacy import forget_person

    if not yes:
        click.confirm(
            f"Forget {email}? Their provider connections are revoked and their personal data"
            " removed. This cannot be undone.",
            abort=True,
        )
    services = build_services()

    async def run() -> object:
        try:
            return await forget_person(services, email, actor=actor)
        finally:
            await services.aclose()

    try:
        report = run_async(run())
    finally:
        services.close()
    if report.nothing_to_do and not report.already_forgotten:
        fail(
            f"no user, booking or message has the email {email.strip().lower()}; nothing was"
            " changed. Check the address (`meetbridge users list`, `meetbridge bookings list`)."
        )
    if as_json:
        echo_json(report.as_dict())
        return
    if report.nothing_to_do:
        click.echo(f"{email} was already forgotten ({report.pseudonym}); nothing to do.")
        return
    click.echo(f"Forgot {email}; the audit trail knows them as {report.pseudonym}.")
    if report.user_found:
        click.echo("  account: deactivated, email replaced by the pseudonym, password removed")
    click.echo(
        f"  connections: {report.connections_revoked} (tokens deleted;"
        f" {report.revoked_at_provider} revoked at the provider)"
    )
    click.echo(f"  attendee records: {report.attendee_records}")
    click.echo(f"  messages to or about them: {report.messages_scrubbed}")
    click.echo(f"  audit events naming them: {report.audit_events_scrubbed}")
    if report.revocation_unconfirmed:
        click.secho(
            "  Warning: "
            + ", ".join(report.revocation_unconfirmed)
            + " did not confirm the revocation. The tokens are deleted here; revoke"
            " meetbridge's access in that provider's settings to be sure.",
            fg="yellow",
        )
