"""Organisations and their people: creating them and looking them up."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from meetbridge.models import Organization, Role, User
from meetbridge.settings import DEFAULT_TIMEZONE


class DirectoryError(ValueError):
    """Bad input for an organisation or a user; the message says what to change."""


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    if not slug:
        raise DirectoryError(f"{text!r} gives an empty slug; use letters or digits.")
    return slug[:100]


def get_or_create_organization(
    session: Session,
    name: str = "My organisation",
    *,
    timezone: str = DEFAULT_TIMEZONE,
    fallback_order: list[str] | None = None,
) -> Organization:
    """The organisation named ``name``; created with these settings when it does not exist."""
    slug = slugify(name)
    org = session.scalars(select(Organization).where(Organization.slug == slug)).first()
    if org is None:
        org = Organization(name=name, slug=slug, timezone=timezone)
        if fallback_order is not None:
            org.fallback_order = list(fallback_order)
        session.add(org)
        session.flush()
    return org


def default_organization(session: Session) -> Organization:
    """The first organisation (single-organisation installs), created when missing."""
    org = session.scalars(select(Organization).order_by(Organization.id)).first()
    return org or get_or_create_organization(session)


def create_user(
    session: Session,
    organization: Organization,
    email: str,
    *,
    name: str = "",
    role: Role = Role.MEMBER,
    timezone: str | None = None,
) -> User:
    email = email.strip().lower()
    if session.scalars(select(User).where(User.email == email)).first() is not None:
        raise DirectoryError(f"A user with email {email} already exists.")
    try:
        user = User(
            organization=organization,
            email=email,
            name=name or email.split("@")[0],
            role=role,
            timezone=timezone or organization.timezone,
        )
    except ValueError as exc:
        raise DirectoryError(str(exc)) from None
    session.add(user)
    session.flush()
    return user


def user_by_email(session: Session, email: str) -> User:
    user = session.scalars(select(User).where(User.email == email.strip().lower())).first()
    if user is None:
        raise DirectoryError(f"No user with email {email}.")
    return user
