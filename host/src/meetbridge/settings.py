"""One settings object for the whole host.

Sources, strongest first: arguments given in code, environment variables ``MEETBRIDGE_*``
(nested with ``__``: ``MEETBRIDGE_PROVIDERS__ZOOM__CLIENT_ID``), an optional TOML file
(``MEETBRIDGE_CONFIG``, else ``./meetbridge.toml`` when present), then the defaults below.

Every provider URL is a setting (``authorize_url``, ``token_url``, ``revoke_url``,
``api_base_url``, ``userinfo_url``...): left empty, the plugin's real endpoint is used; set, the
same code talks to a sandbox or a test double instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from meetbridge.providers import ProviderInfo, Secret

DEFAULT_TIMEZONE = "America/New_York"
DEFAULT_FALLBACK_ORDER = ("zoom", "google_meet", "teams")
ENDPOINT_KEYS = ("authorize_url", "token_url", "revoke_url", "api_base_url", "userinfo_url")


def validate_timezone(name: str) -> str:
    """Return ``name`` if it is a known IANA zone, else raise ``ValueError`` saying so."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"Unknown timezone {name!r}: use an IANA name such as 'America/New_York' or"
            " 'Europe/Paris'."
        ) from None
    return name


class ProviderSettings(BaseModel):
    """Settings of one provider plugin (credentials of the OAuth app, endpoints, options)."""

    client_id: str = ""
    client_secret: SecretStr = SecretStr("")
    webhook_secret: SecretStr = SecretStr("")
    redirect_uri: str = ""  # empty: {base_url}/connect/{provider}/callback
    authorize_url: str = ""
    token_url: str = ""
    revoke_url: str = ""
    api_base_url: str = ""
    userinfo_url: str = ""
    options: dict[str, Any] = Field(default_factory=dict)


class OrganizationDefaults(BaseModel):
    timezone: str = DEFAULT_TIMEZONE
    fallback_order: list[str] = Field(default_factory=lambda: list(DEFAULT_FALLBACK_ORDER))

    _check_tz = field_validator("timezone")(classmethod(lambda cls, v: validate_timezone(v)))


class EmailSettings(BaseModel):
    """How messages leave: ``file`` (.eml files, the embedded default), ``smtp``, ``console``."""

    transport: Literal["file", "smtp", "console"] = "file"
    directory: Path | None = None  # file transport; empty: <data_dir>/outbox
    from_address: str = "meetbridge <meetbridge@localhost>"
    smtp_host: str = "localhost"
    smtp_port: int = 587
    smtp_security: Literal["starttls", "ssl", "none"] = "starttls"
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_timeout_seconds: float = 10.0
    smtp_ca_file: Path | None = None  # trust this CA bundle (a private or self-signed server)
    locale: str = "en"  # language of messages; strings missing in it fall back to English
    # Days after a connection broke on which its owner is reminded, until it is reconnected.
    reconnect_reminder_days: list[int] = Field(default_factory=lambda: [1, 3, 7])


class WebSettings(BaseModel):
    """The web application (``meetbridge serve``)."""

    session_secret: SecretStr = SecretStr("")  # empty: derived from the vault's primary key
    embedded_worker: bool = True  # run a worker inside `serve` (off for scaled deployments)
    inline_budget_seconds: float = 5.0  # how long a booking waits for its meeting inline
    # ``/metrics``: always answered to loopback clients that came through no proxy; anyone else
    # needs ``Authorization: Bearer <metrics_token>`` (empty: nobody else). Off: 404 for all.
    metrics_enabled: bool = True
    metrics_token: SecretStr = SecretStr("")
    # Sign-in throttling (per process): this many failed passwords for one email, or
    # ``login_max_failures_per_ip`` from one address, within the window, and further attempts
    # are refused (429) until the oldest failure leaves it. 0 switches it off.
    login_max_failures: int = Field(10, ge=0)
    login_max_failures_per_ip: int = Field(50, ge=1)
    login_window_minutes: int = Field(15, ge=1)


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class LogSettings(BaseModel):
    """Logs of ``meetbridge serve`` and ``meetbridge worker`` (to stderr).

    ``json``: one JSON object per line (ts, level, logger, message, request_id, job_id,
    exception), for log shippers. ``text``: one readable line, for a terminal.
    """

    format: Literal["json", "text"] = "json"
    level: str = "INFO"

    @field_validator("level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"Unknown log level {value!r}: use one of {', '.join(LOG_LEVELS)}.")
        return level


def _default_config_file() -> Path | None:
    configured = os.environ.get("MEETBRIDGE_CONFIG")
    if configured:
        return Path(configured)
    local = Path("meetbridge.toml")
    return local if local.exists() else None


class Settings(BaseSettings):
    """The effective configuration. Build with :func:`load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix="MEETBRIDGE_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    env: Literal["development", "production"] = "development"
    data_dir: Path = Path("meetbridge-data")
    database_url: str = ""  # empty: sqlite file in data_dir
    secret_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    key_file: Path | None = None  # empty: data_dir/secret.keys
    base_url: str = "http://127.0.0.1:8000"
    organization: OrganizationDefaults = Field(default_factory=OrganizationDefaults)
    providers: dict[str, ProviderSettings] = Field(default_factory=dict)
    http_timeout_seconds: float = 10.0
    email: EmailSettings = Field(default_factory=EmailSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    log: LogSettings = Field(default_factory=LogSettings)

    @field_validator("secret_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        # Keys are comma-separated in the environment; newest (primary) first.
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = _default_config_file()
        if config_file is not None:
            if not config_file.exists():
                raise FileNotFoundError(
                    f"MEETBRIDGE_CONFIG points at {config_file}, which does not exist."
                )
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    # -- derived values ----------------------------------------------------------------------
    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'meetbridge.sqlite3')}"

    @property
    def effective_key_file(self) -> Path:
        return self.key_file or self.data_dir / "secret.keys"

    def provider(self, info: ProviderInfo) -> ResolvedProviderSettings:
        """The settings a plugin sees: its section merged over its own default endpoints."""
        raw = self.providers.get(info.name, ProviderSettings())
        endpoints = dict(info.endpoints)
        for key in ENDPOINT_KEYS:
            value = getattr(raw, key)
            if value:
                endpoints[key] = value
        redirect = raw.redirect_uri or f"{self.base_url.rstrip('/')}/connect/{info.name}/callback"
        return ResolvedProviderSettings(
            name=info.name,
            client_id=raw.client_id,
            client_secret=Secret(raw.client_secret.get_secret_value()),
            webhook_secret=Secret(raw.webhook_secret.get_secret_value()),
            redirect_uri=redirect,
            endpoints=endpoints,
            options=dict(raw.options),
        )

    def masked(self) -> dict[str, Any]:
        """The effective settings as plain data with every secret masked (for ``config show``)."""
        data = self.model_dump(mode="json")
        data["database_url"] = _mask_url(self.effective_database_url)
        data["key_file"] = str(self.effective_key_file)
        data["secret_keys"] = [f"*** (key {i + 1})" for i in range(len(self.secret_keys))]
        for provider in data.get("providers", {}).values():
            provider["options"] = _mask_options(provider.get("options", {}))
        return data


_SECRET_WORDS = ("secret", "password", "token", "key")


def _mask_options(options: dict[str, Any]) -> dict[str, Any]:
    """Options are free-form (e.g. Zoom's account_level_client_secret): mask by name."""
    masked: dict[str, Any] = {}
    for name, value in options.items():
        if isinstance(value, dict):
            masked[name] = _mask_options(value)
        elif any(word in name.lower() for word in _SECRET_WORDS) and value:
            masked[name] = "***"
        else:
            masked[name] = value
    return masked


def _mask_url(url: str) -> str:
    """Hide a password in a database URL."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "***"


@dataclass(frozen=True)
class ResolvedProviderSettings:
    name: str
    client_id: str
    client_secret: Secret
    webhook_secret: Secret
    redirect_uri: str
    endpoints: Mapping[str, str] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)

    def endpoint(self, key: str) -> str:
        try:
            return self.endpoints[key].rstrip("/")
        except KeyError:
            raise KeyError(
                f"Provider {self.name!r} has no {key!r} endpoint configured; set"
                f" MEETBRIDGE_PROVIDERS__{self.name.upper()}__{key.upper()}."
            ) from None


def load_settings(**overrides: Any) -> Settings:
    return Settings(**overrides)
