"""The token vault: encryption at rest for tokens and host start links.

Secrets are encrypted with Fernet (AES-128-CBC + HMAC-SHA256). Several keys are supported
through MultiFernet: the first key encrypts, every key decrypts, so keys are rotated by
putting a new key first, running ``meetbridge keys rotate`` (which re-encrypts every stored
secret with it), then dropping the old key.

Where keys come from, in order: ``MEETBRIDGE_SECRET_KEYS`` (comma-separated, newest first),
else the key file (``<data_dir>/secret.keys``, one key per line, newest first). In development
mode a missing key file is created with a fresh key and permissions 0600; in production mode a
missing key is a startup error.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from meetbridge.providers import Secret, TokenSet
from meetbridge.settings import Settings


class VaultError(Exception):
    """The vault cannot work: no key, a bad key, or data no configured key can decrypt."""


@dataclass(frozen=True)
class EncryptedColumn:
    """A column holding vault ciphertext; ``meetbridge keys rotate`` walks all of them."""

    model: Any
    column: str


def encrypted_columns() -> tuple[EncryptedColumn, ...]:
    from meetbridge.models import Connection, Meeting, WebhookSubscription

    return (
        EncryptedColumn(Connection, "token_ciphertext"),
        EncryptedColumn(Meeting, "start_url_ciphertext"),
        EncryptedColumn(WebhookSubscription, "secret_ciphertext"),
    )


def generate_key() -> str:
    return Fernet.generate_key().decode("ascii")


class Vault:
    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise VaultError("The vault needs at least one key.")
        try:
            self._fernet = MultiFernet([Fernet(k.encode("ascii")) for k in keys])
        except (ValueError, TypeError) as exc:
            raise VaultError(
                "A configured secret key is not a valid Fernet key (32 url-safe base64-encoded"
                " bytes). Generate one with `meetbridge keys generate`."
            ) from exc
        self.key_count = len(keys)

    # -- bytes -------------------------------------------------------------------------------
    def encrypt(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode("utf-8"))

    def decrypt(self, ciphertext: bytes) -> str:
        try:
            return self._fernet.decrypt(ciphertext).decode("utf-8")
        except InvalidToken:
            raise VaultError(
                "Stored secret cannot be decrypted with any configured key. Was a key removed"
                " before `meetbridge keys rotate` ran? Restore the old key (after the new one)."
            ) from None

    def rotate(self, ciphertext: bytes) -> bytes:
        try:
            return self._fernet.rotate(ciphertext)
        except InvalidToken:
            raise VaultError("Stored secret cannot be decrypted with any configured key.") from None

    # -- typed helpers -----------------------------------------------------------------------
    def encrypt_tokens(self, tokens: TokenSet) -> bytes:
        doc = {
            "access_token": tokens.access_token.reveal(),
            "refresh_token": tokens.refresh_token.reveal() if tokens.refresh_token else None,
            "expires_at": tokens.expires_at.isoformat() if tokens.expires_at else None,
            "scope": list(tokens.scope),
            "token_type": tokens.token_type,
            "extra": dict(tokens.extra),
        }
        return self.encrypt(json.dumps(doc))

    def decrypt_tokens(self, ciphertext: bytes) -> TokenSet:
        from datetime import datetime

        doc = json.loads(self.decrypt(ciphertext))
        return TokenSet(
            access_token=Secret(doc["access_token"]),
            refresh_token=Secret(doc["refresh_token"]) if doc.get("refresh_token") else None,
            expires_at=datetime.fromisoformat(doc["expires_at"]) if doc.get("expires_at") else None,
            scope=tuple(doc.get("scope") or ()),
            token_type=doc.get("token_type", "bearer"),
            extra=doc.get("extra") or {},
        )

    def encrypt_secret(self, value: Secret) -> bytes:
        return self.encrypt(value.reveal())

    def decrypt_secret(self, ciphertext: bytes) -> Secret:
        return Secret(self.decrypt(ciphertext))


# -- keys -----------------------------------------------------------------------------------


def _read_key_file(path: Path) -> list[str]:
    return [
        line.strip()
        for line in path.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def write_key_file(path: Path, keys: Sequence[str]) -> None:
    """Write keys (newest first) to ``path`` with permissions 0600, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("# meetbridge secret keys, newest (primary) first. Keep this file private.\n")
        fh.write("\n".join(keys) + "\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def load_keys(settings: Settings, *, create: bool | None = None) -> list[str]:
    """The configured keys, newest first. Creates the key file in development mode."""
    if settings.secret_keys:
        return [k.get_secret_value() for k in settings.secret_keys]
    path = settings.effective_key_file
    if path.exists():
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise VaultError(
                f"Key file {path} is readable by others (mode {mode:o}); run `chmod 600 {path}`."
            )
        keys = _read_key_file(path)
        if keys:
            return keys
    if create is None:
        create = settings.env == "development"
    if not create:
        raise VaultError(
            "No secret key configured: meetbridge refuses to start in production without one,"
            " because tokens are stored encrypted. Set MEETBRIDGE_SECRET_KEYS (generate a key"
            f" with `meetbridge keys generate`) or create the key file {path} (mode 0600)."
        )
    key = generate_key()
    write_key_file(path, [key])
    return [key]


def vault_from_settings(settings: Settings) -> Vault:
    return Vault(load_keys(settings))


def rotate_all(
    session: Session, vault: Vault, progress: Callable[[int], None] | None = None
) -> int:
    """Re-encrypt every stored secret with the vault's primary key; returns how many."""
    count = 0
    for item in encrypted_columns():
        col = getattr(item.model, item.column)
        pk = item.model.id
        for row_id, ciphertext in _batches(session, select(pk, col).where(col.is_not(None))):
            session.execute(
                update(item.model)
                .where(pk == row_id)
                .values({item.column: vault.rotate(ciphertext)})
            )
            count += 1
            if progress:
                progress(1)
    count += _rotate_sealed_payloads(session, vault, progress)
    return count


def _rotate_sealed_payloads(
    session: Session, vault: Vault, progress: Callable[[int], None] | None
) -> int:
    """Queued messages carry sealed values (e.g. a manage link) inside their JSON payload."""
    from meetbridge.models import OutboundMessage
    from meetbridge.notifications.outbox import SEALED_KEY

    count = 0
    for message in session.scalars(select(OutboundMessage)):
        sealed = (message.payload or {}).get(SEALED_KEY)
        if not sealed:
            continue
        rotated = {
            name: vault.rotate(value.encode("ascii")).decode("ascii")
            for name, value in sealed.items()
        }
        message.payload = {**message.payload, SEALED_KEY: rotated}
        count += 1
        if progress:
            progress(1)
    return count


def count_encrypted(session: Session) -> int:
    from sqlalchemy import func

    from meetbridge.models import OutboundMessage
    from meetbridge.notifications.outbox import SEALED_KEY

    total = 0
    for item in encrypted_columns():
        col = getattr(item.model, item.column)
        total += session.scalar(select(func.count()).where(col.is_not(None))) or 0
    payloads = session.scalars(select(OutboundMessage.payload))
    return total + sum(1 for p in payloads if (p or {}).get(SEALED_KEY))


def _batches(session: Session, stmt: Any) -> Iterator[tuple[int, bytes]]:
    yield from session.execute(stmt).all()
