"""Configuration from ``GRIDCALL_*`` environment variables, read once at start-up."""

from __future__ import annotations

import secrets

from pydantic import Field, PrivateAttr, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT = "development"
MIN_SECRET_LENGTH = 32


class InsecureSettingsError(RuntimeError):
    """The web app must not start with settings that would let anyone forge a login."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRIDCALL_", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="unset: the embedded SQLite + SpatiaLite file ./gridcall.db; "
        "a postgresql+psycopg:// URL: PostgreSQL with PostGIS",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="signs the login tokens (HS256); required outside development, at least "
        f"{MIN_SECRET_LENGTH} characters. Unset in development: a random key per process, so "
        "tokens do not survive a restart",
    )
    environment: str = Field(
        DEVELOPMENT, description="`development`, or anything else (`production`, `test`...)"
    )
    token_minutes: int = Field(12 * 60, gt=0, description="login lifetime: one long shift")
    bcrypt_rounds: int = Field(12, ge=4, le=16, description="cost of password hashing")
    ogc_max_limit: int = Field(10_000, gt=0, description="most features in one OGC page")
    ogc_default_limit: int = Field(100, gt=0, description="OGC page size without ?limit=")
    auto_dispatch: bool = Field(
        True,
        description="a new repair order goes to the nearest free crew at once "
        "(article 23: within 5 minutes); a dispatcher may reassign it",
    )
    network_check_seconds: float = Field(
        5.0,
        ge=0,
        description="how often the running app looks for a newer layer import and, when one "
        "has landed, loads its network in the background and swaps it in (no restart)",
    )
    sweep_seconds: float = Field(
        60.0,
        gt=0,
        description="how often, between calls, the open incidents are re-examined as "
        "silence grows (a roll-up undone, a lone call flagged as the customer's own wiring); "
        "after a call it happens anyway",
    )
    replay_workers: int = Field(
        1,
        ge=0,
        description="processes that parse and locate the calls of `gridcall replay` ahead "
        "of the intake, which meanwhile groups the calls before (0: the intake locates each "
        "call itself); locating asks the network alone, so the answers are the same",
    )
    host: str = "127.0.0.1"
    port: int = Field(8000, gt=0, lt=65536)

    _random_key: str = PrivateAttr(default_factory=lambda: secrets.token_urlsafe(32))

    @property
    def is_development(self) -> bool:
        return self.environment == DEVELOPMENT

    def signing_key(self) -> str:
        """The key that signs tokens: the configured one, or in development a random key made
        once for this settings object (every process of the app holds one settings object)."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        return self._random_key

    def check_for_serving(self) -> None:
        """Refuses to serve outside development with a missing or short secret key: the
        random fallback would log every user out at each restart and differ between workers,
        and a short key can be guessed offline from any token."""
        if self.is_development:
            return
        if self.secret_key is None:
            raise InsecureSettingsError(
                f"GRIDCALL_SECRET_KEY is not set and GRIDCALL_ENVIRONMENT is "
                f"{self.environment!r}: set a random secret of at least {MIN_SECRET_LENGTH} "
                "characters (python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        if len(self.secret_key.get_secret_value()) < MIN_SECRET_LENGTH:
            raise InsecureSettingsError(
                f"GRIDCALL_SECRET_KEY is shorter than {MIN_SECRET_LENGTH} characters"
            )


def load_settings() -> Settings:
    return Settings()
