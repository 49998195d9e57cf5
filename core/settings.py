"""Settings, read from the environment (prefix ``SIKS_``) or a ``.env`` file."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Mode(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///siks.db"
DEVELOPMENT_SECRET = "development-only-secret-do-not-use-in-production"


class Settings(BaseSettings):
    """Every setting SIKS reads. See the settings table in README.md."""

    model_config = SettingsConfigDict(env_prefix="SIKS_", env_file=".env", extra="ignore")

    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="SQLAlchemy async URL; an SQLite file in the working directory by default.",
    )
    database_schema: str | None = Field(
        None,
        pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        description="PostgreSQL only: the schema SIKS's tables live in (search_path); the server default if unset.",
    )
    mode: Mode = Field(Mode.DEVELOPMENT, description="development enables GraphiQL.")
    max_page_size: int = Field(1000, ge=1, description="Largest `first` a list accepts.")
    max_query_depth: int = Field(10, ge=1, description="Deepest nesting of fields one GraphQL operation may have.")
    max_query_aliases: int = Field(20, ge=0, description="Most aliases one GraphQL document may use.")
    max_query_tokens: int = Field(
        3000, ge=100, description="Most tokens one GraphQL document may have (also bounds its fragment expansion)."
    )
    max_query_cost: int = Field(
        200_000, ge=1, description="Largest estimated cost (fields × page sizes of the lists they sit in) of a query."
    )
    max_response_bytes: int = Field(
        16_777_216,
        ge=1024,
        description="Largest GraphQL answer (bytes of JSON); an operation is stopped while it runs once its answer "
        "would be larger.",
    )
    max_request_bytes: int = Field(1_048_576, ge=1024, description="Largest request body; larger ones get HTTP 413.")
    request_timeout_seconds: float = Field(
        30.0,
        gt=0,
        description="A request still running after this many seconds is stopped with HTTP 503, also in the middle "
        "of synchronous work (completing or encoding a GraphQL answer).",
    )
    public_requests_per_minute: int = Field(
        30, ge=1, description="Requests a client (IP address) may send to /public/graphql in one minute."
    )
    public_max_results: int = Field(10, ge=1, le=100, description="Most people one Cek Bansos lookup answers with.")
    redis_url: str | None = Field(
        None, description="Redis for the public rate limits, shared by every server process; in-memory if unset."
    )
    demo_households: int = Field(2000, ge=0, description="Households `siks serve` seeds into an empty database.")
    db_pool_size: int = Field(10, ge=1, description="Connections per process (PostgreSQL).")
    sql_echo: bool = Field(False, description="Log every SQL statement.")
    model_dir: Path = Field(
        Path("models"), description="Directory of the welfare model files, one a version (relative to the working dir)."
    )
    photo_dir: Path = Field(
        Path("photos"), description="Folder of the field-visit photos (originals and copies without metadata)."
    )
    max_photo_bytes: int = Field(
        10_485_760, ge=1024, le=104_857_600, description="Largest photo one upload may carry (bytes)."
    )
    secret_key: str = Field(
        DEVELOPMENT_SECRET,
        description="Signs access and refresh tokens; at least 32 characters; required outside development.",
    )
    access_token_minutes: int = Field(15, ge=1, le=1440, description="Lifetime of an access token.")
    refresh_token_days: int = Field(7, ge=1, le=90, description="Lifetime of a refresh token.")
    plugins: str | None = Field(
        None, description="Comma-separated entry-point names of the program plugins to load; all installed if unset."
    )

    def secret_problem(self) -> str | None:
        """Why the secret key may not be used in this mode, or None."""
        if self.mode is Mode.DEVELOPMENT:
            return None
        if self.secret_key == DEVELOPMENT_SECRET:
            return "SIKS_SECRET_KEY is the development default; set a secret of at least 32 random characters"
        if len(self.secret_key) < 32:
            return "SIKS_SECRET_KEY is shorter than 32 characters"
        return None

    def plugin_allowlist(self) -> list[str] | None:
        if self.plugins is None:
            return None
        return [name.strip() for name in self.plugins.split(",") if name.strip()]

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def sqlite_path(self) -> Path | None:
        if not self.is_sqlite:
            return None
        path = self.database_url.split("///", 1)[-1]
        return None if path in ("", ":memory:") else Path(path)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
