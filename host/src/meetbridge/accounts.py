"""People who sign in: password hashing, creating accounts, signing in, roles.

Passwords are hashed with Argon2id (argon2-cffi's defaults, the RFC 9106 low-memory profile);
a hash made with older parameters is upgraded the next time its owner signs in. Signing in
with an unknown email costs the same as with a wrong password, so response times do not tell
which emails have accounts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meetbridge.directory import DirectoryError, create_user
from meetbridge.models import Organization, Role, User
from meetbridge.scheduling.availability import OFFICE_HOURS, set_weekly_availability
from meetbridge.scheduling.slots import Window

MIN_PASSWORD_LENGTH = 10
_hasher = PasswordHasher()
# Verified against when the email is unknown, so that case takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash("meetbridge-no-such-user")


class AccountError(ValueError):
    """Bad input for an account; the message says what to change."""


def hash_password(password: str) -> str:
    check_password(password)
    return _hasher.hash(password)


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"Passwords need at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > 1024:
        raise AccountError("Passwords are at most 1024 characters.")


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def session_fingerprint(user: User) -> str:
    """Changes whenever the password changes; sessions carry it, so a new password (or a
    deactivated account) signs out every existing session."""
    material = f"{user.id}:{user.password_hash or ''}:{user.active}"
    return hashlib.sha256(material.encode()).hexdigest()[:24]


def create_account(
    session: Session,
    organization: Organization,
    email: str,
    *,
    password: str | None = None,
    role: Role = Role.MEMBER,
    name: str = "",
    timezone: str | None = None,
    availability: Sequence[Window] = OFFICE_HOURS,
) -> User:
    """A new person in ``organization``: able to sign in when ``password`` is given, and
    bookable during ``availability`` (weekday office hours in their own timezone by default,
    as most schedulers start people off)."""
    password_hash = hash_password(password) if password is not None else None
    try:
        user = create_user(session, organization, email, name=name, role=role, timezone=timezone)
    except DirectoryError as exc:
        raise AccountError(str(exc)) from None
    user.password_hash = password_hash
    set_weekly_availability(session, user, availability)
    return user


def set_password(session: Session, user: User, password: str) -> None:
    user.password_hash = hash_password(password)
    session.flush()


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with this email and password, or None (same cost either way)."""
    user = session.scalars(select(User).where(User.email == email.strip().lower())).first()
    if user is None or not user.active or not user.password_hash:
        verify_password(None, password)
        return None
    if not verify_password(user.password_hash, password):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def set_role(session: Session, email: str, role: Role) -> User:
    """Make ``email`` an admin or a member; the last admin of an organisation stays admin."""
    user = session.scalars(select(User).where(User.email == email.strip().lower())).first()
    if user is None:
        raise AccountError(f"No user with email {email}.")
    if user.role == Role.ADMIN and role != Role.ADMIN:
        admins = session.scalar(
            select(func.count())
            .select_from(User)
            .where(
                User.organization_id == user.organization_id,
                User.role == Role.ADMIN,
                User.active.is_(True),
            )
        )
        if (admins or 0) <= 1:
            raise AccountError(
                f"{user.email} is the only admin of the organisation; make someone else admin"
                " first."
            )
    user.role = role
    session.flush()
    return user


def list_accounts(session: Session, organization_id: int | None = None) -> list[User]:
    stmt = select(User).order_by(User.organization_id, User.email)
    if organization_id is not None:
        stmt = stmt.where(User.organization_id == organization_id)
    return list(session.scalars(stmt))
