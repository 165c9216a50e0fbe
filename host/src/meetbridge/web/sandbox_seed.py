"""People and a meeting type to click around with in ``serve --sandbox``.

Sandbox mode is for trying meetbridge on one machine: it makes sure an admin and a member
exist (with new passwords on every start, printed by ``serve``) and, when the organisation has
no meeting type yet, an "Intro call" on Zoom hosted by the member.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from meetbridge.accounts import create_account, set_password
from meetbridge.directory import default_organization
from meetbridge.models import MeetingType, Role, User
from meetbridge.scheduling.meeting_types import MeetingTypeSpec, save_meeting_type

if TYPE_CHECKING:
    from meetbridge.services import Services

ADMIN_EMAIL = "admin@sandbox.meetbridge.test"
MEMBER_EMAIL = "member@sandbox.meetbridge.test"


@dataclass(frozen=True)
class SandboxLogin:
    email: str
    password: str
    role: str


def seed_sandbox_people(services: Services) -> list[SandboxLogin]:
    logins = []
    with services.sessions() as session, session.begin():
        org = default_organization(session)
        for email, role, name in (
            (ADMIN_EMAIL, Role.ADMIN, "Sandbox Admin"),
            (MEMBER_EMAIL, Role.MEMBER, "Sandbox Member"),
        ):
            password = secrets.token_urlsafe(12)
            user = session.scalars(select(User).where(User.email == email)).first()
            if user is None:
                create_account(session, org, email, password=password, role=role, name=name)
            else:
                set_password(session, user, password)
            logins.append(SandboxLogin(email, password, role.value))
        has_types = session.scalar(
            select(MeetingType.id).where(MeetingType.organization_id == org.id)
        )
        if not has_types and "zoom" in services.plugins.providers():
            save_meeting_type(
                session,
                org,
                MeetingTypeSpec(
                    name="Intro call",
                    duration_minutes=30,
                    hosts=[MEMBER_EMAIL],
                    location="zoom",
                    description="A 30-minute video call (made on the Zoom sandbox).",
                ),
                list(services.plugins.providers()),
            )
    return logins
