"""Configuration from ``GRIDCALL_*`` environment variables, read once at start-up."""

from __future__ import annotations

import secrets

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRIDCALL_", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="unset: the embedded SQLite + SpatiaLite file ./gridcall.db; "
        "a postgresql+psycopg:// URL: PostgreSQL with PostGIS",
    )
    secret_key: str = Field(default_factory=lambda: secrets.token_urlsafe(32))
    environment: str = "development"
    token_minutes: int = 12 * 60


def load_settings() -> Settings:
    return Settings()
