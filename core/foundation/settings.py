"""Settings, read from the environment (prefix ``SIKS_``) or a ``.env`` file."""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Mode(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class Pooler(StrEnum):
    """What stands between SIKS and PostgreSQL: nothing, or a pooler (PgBouncer) in transaction mode."""

    NONE = "none"
    TRANSACTION = "transaction"


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///siks.db"
DEVELOPMENT_SECRET = "development-only-secret-do-not-use-in-production"
DEVELOPMENT_AUDIT_KEY = "development-only-audit-key-do-not-use-in-production"


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
    database_pooler: Pooler = Field(
        Pooler.NONE,
        description="PostgreSQL only: `transaction` when SIKS_DATABASE_URL (and the replica's URL) goes through a "
        "pooler in transaction mode (PgBouncer pool_mode=transaction): no prepared statement outlives a transaction, "
        "the schema is set in each transaction, and session-level work uses SIKS_DATABASE_DIRECT_URL (docs/scale.md).",
    )
    database_direct_url: str | None = Field(
        None,
        description="PostgreSQL only: a URL straight to the primary server, not through the pooler, for the locks "
        "held for a whole job (session advisory locks); unset: the pooler's URL (with SIKS_DATABASE_POOLER=transaction "
        "such a lock then holds one transaction open on one pooled server connection for the job's life).",
    )
    database_replica_url: str | None = Field(
        None,
        description="PostgreSQL only: a streaming read replica (hot standby) that read-only GraphQL queries are "
        "answered from; writes and reads that must see the caller's own writes stay on SIKS_DATABASE_URL.",
    )
    database_replica_max_lag_seconds: float = Field(
        30.0,
        gt=0,
        description="A replica further behind the primary than this (replay lag with WAL still to replay) is not "
        "read from: queries go to the primary until it catches up.",
    )
    database_replica_sticky_seconds: float = Field(
        10.0,
        ge=0,
        description="After a caller's request wrote, that caller's queries are answered by the primary for this "
        "long (read-your-writes); with SIKS_REDIS_URL every worker knows it.",
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
    cors_origins: str | None = Field(
        None,
        description="Comma-separated origins (scheme://host[:port]) whose browser apps may call /graphql and "
        "/public/graphql; unset: none, in every mode.",
    )
    persisted_queries_max: int = Field(
        1000,
        ge=1,
        description="Persisted queries one process keeps per endpoint (least recently used go first); with "
        "SIKS_REDIS_URL they are kept in Redis instead.",
    )
    public_requests_per_minute: int = Field(
        30, ge=1, description="Requests a client (IP address) may send to /public/graphql in one minute."
    )
    public_max_results: int = Field(10, ge=1, le=100, description="Most people one Cek Bansos lookup answers with.")
    public_recap_min_count: int = Field(
        5,
        ge=1,
        le=100,
        description="Public recaps withhold counts from 1 to this minus 1 (null, flagged) and round every other "
        "count down to a multiple of it; 1 publishes exact counts.",
    )
    rekap_cache_seconds: float = Field(
        300,
        ge=0,
        description="How long one process keeps the figures and charts of the public recap page /dataku/rekap "
        "before counting again; 0 counts on every view.",
    )
    public_nik_checks_per_day: int = Field(
        5, ge=1, description="Cek Bansos look-ups with a NIK one (village, full name) may get a day (all addresses)."
    )
    dataku_region_steps_per_minute: int = Field(
        120,
        ge=1,
        description="Region-choosing pages of SIKS-Dataku (the Cek Bansos and Usul steps province to village, a "
        "database query each) a client address may open in a minute; counted apart from the public look-ups.",
    )
    dataku_ticket_checks_per_hour: int = Field(
        20, ge=1, description="Times one SIKS-Dataku ticket code may be tracked (Lacak) in an hour, from all addresses."
    )
    anonymous_requests_per_minute: int = Field(
        60, ge=1, description="Requests without valid credentials a client address may send to /graphql in a minute."
    )
    login_account_failures: int = Field(
        5, ge=1, description="Failed logins an account may have before each further attempt must wait."
    )
    login_address_failures: int = Field(
        30, ge=1, description="Failed logins a client address may have (any accounts) before each further one waits."
    )
    login_lockout_seconds: int = Field(
        60, ge=1, description="The first wait after too many failed logins; it doubles with each further attempt."
    )
    login_max_lockout_seconds: int = Field(900, ge=1, description="The longest wait between failed logins.")
    trusted_proxies: str = Field(
        "",
        description="Comma-separated addresses or networks of the reverse proxies whose X-Forwarded-For names the "
        "client; none by default: the peer of the connection is the client.",
    )
    log_format: LogFormat | None = Field(
        None,
        description="Server logs: `json` (one JSON object per line, with the request id) or `text`; "
        "unset: json in production mode, text in development.",
    )
    redis_url: str | None = Field(
        None,
        description="Redis for the rate limits and login throttle, shared by every server process; in memory if unset.",
    )
    identity_link_probability: float = Field(
        0.9,
        gt=0,
        le=1,
        description="Smallest match probability at which `siks identity check` suggests a NIK (or finds a pupil) "
        "by record linkage.",
    )
    demo_households: int = Field(2000, ge=0, description="Households `siks serve` seeds into an empty database.")
    db_pool_size: int = Field(10, ge=1, description="Connections per process (PostgreSQL).")
    db_connect_timeout_seconds: float = Field(
        3.0, gt=0, le=60, description="Longest wait for a new database connection before answering HTTP 503."
    )
    db_pool_timeout_seconds: float = Field(
        3.0, gt=0, le=60, description="Longest wait for a free pooled connection before answering HTTP 503."
    )
    db_lock_timeout_seconds: float = Field(
        5.0, ge=0, le=600, description="SQLite only: longest wait for another writer's lock (busy timeout)."
    )
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
    xlsx_max_uncompressed_bytes: int = Field(
        536_870_912,
        ge=1_048_576,
        description="Largest size an imported XLSX workbook may unzip to (all its parts); larger files are refused.",
    )
    xlsx_max_compression_ratio: int = Field(
        100, ge=10, description="Most times a part (over 1 MiB) of an imported XLSX workbook may be compressed."
    )
    xlsx_max_cell_bytes: int = Field(
        32_768, ge=1024, description="Longest cell text (UTF-8 bytes, or any one XML tag) an imported XLSX may hold."
    )
    secret_key: str = Field(
        DEVELOPMENT_SECRET,
        description="Signs access and refresh tokens; at least 32 characters; required outside development.",
    )
    audit_key: str = Field(
        DEVELOPMENT_AUDIT_KEY,
        description="Keys the audit log's hash chain (HMAC-SHA256) and signs its checkpoints; at least 32 "
        "characters, not SIKS_SECRET_KEY; required outside development. Never stored in the database.",
    )
    audit_retired_keys: str | None = Field(
        None, description="Comma-separated earlier audit keys, kept to verify the rows and checkpoints they keyed."
    )
    audit_checkpoint_file: Path = Field(
        Path("audit-checkpoints.jsonl"),
        description="File the signed audit checkpoints are appended to; keep it (or a copy) off the database host.",
    )
    audit_checkpoint_seconds: float = Field(
        300.0, ge=0, description="A server writes a checkpoint this often when the log grew; 0: only by the CLI."
    )
    access_token_minutes: int = Field(15, ge=1, le=1440, description="Lifetime of an access token.")
    refresh_token_days: int = Field(7, ge=1, le=90, description="Lifetime of a refresh token.")
    dci_signature_required: bool | None = Field(
        None,
        description="DCI requests must carry a valid Ed25519 signature (unsigned ones are refused with "
        "err.signature.missing); unset: on in production mode, off in development. A signature that is sent is "
        "always verified.",
    )
    dci_callback_private_allowed: bool | None = Field(
        None,
        description="DCI callbacks (sender_uri, a subscription's notify URI) may go to loopback, private or "
        "link-local addresses; unset: allowed in development mode, refused in production (a client must not make "
        "SIKS post into its own network). SIKS_DCI_CALLBACK_HOSTS lists exceptions.",
    )
    dci_callback_hosts: str = Field(
        "",
        description="Comma-separated host names (or addresses) DCI callbacks may reach even when they are private.",
    )
    dci_signature_window_seconds: int = Field(
        300,
        ge=10,
        le=86_400,
        description="How far a signed DCI request's header message_ts and signature created time may be from now; "
        "its message_id is refused as a replay while twice this long has not passed.",
    )
    dci_key_grace_days: int = Field(
        7,
        ge=0,
        le=365,
        description="Days a SIKS signing key replaced by `siks dci keys rotate` stays published at "
        "/.well-known/jwks.json, so signatures it made still verify.",
    )
    duplicate_report_probability: float = Field(
        0.9,
        ge=0,
        le=1,
        description="The least probability of a `siks dedup run` pair for the double-recipient report to list it.",
    )
    grievance_deadline_days: int = Field(
        14,
        ge=1,
        le=365,
        description="Days a grievance (sanggah) may stay undecided at one level before it is escalated to the "
        "level above (docs/grievances.md).",
    )
    grievance_escalation_seconds: int = Field(
        3600,
        ge=0,
        description="How often the server escalates overdue grievances by itself; 0: never (run `siks grievances "
        "escalate` from cron instead).",
    )
    plugins: str | None = Field(
        None, description="Comma-separated entry-point names of the program plugins to load; all installed if unset."
    )
    identity_nik_min_probability: float = Field(
        0.9,
        gt=0,
        le=1,
        description="A NIK suggested by the Adminduk check becomes a correction proposal only at this match "
        "probability or above (docs/identity-consequences.md).",
    )
    dci_delivery_in_server: bool = Field(
        True, description="The server delivers DCI notifications (a lifespan task); off: `siks dci deliver` does."
    )
    dci_delivery_batch: int = Field(500, ge=1, le=10_000, description="DCI notifications claimed per round.")
    dci_delivery_concurrency: int = Field(
        16, ge=1, le=1000, description="DCI notifications in flight at once per delivery worker."
    )
    dci_delivery_timeout_seconds: float = Field(10.0, gt=0, description="How long a subscriber may take to answer.")
    dci_delivery_backoff_seconds: float = Field(
        2.0, gt=0, description="Wait before the first retry of a refused notification; doubled each time, jittered."
    )
    dci_delivery_backoff_cap_seconds: float = Field(300.0, gt=0, description="The longest wait between retries.")
    dci_delivery_retry_hours: float = Field(
        72.0, gt=0, description="How long a DCI notification is retried before it is marked failed."
    )
    dci_delivery_poll_seconds: float = Field(1.0, gt=0, description="How often an idle delivery worker looks again.")
    dci_notify_sender_id: str = Field("siks", max_length=120, description="`sender_id` of SIKS's notify messages.")

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: str) -> str:
        networks = []
        for item in (part.strip() for part in value.split(",")):
            if not item:
                continue
            try:
                networks.append(str(ipaddress.ip_network(item, strict=False)))
            except ValueError:
                raise ValueError(
                    f"'{item[:45]}' is not an IP address or network; give addresses or CIDR networks such as "
                    "10.0.0.5 or 10.0.0.0/8, separated by commas"
                ) from None
        return ",".join(networks)

    def dci_signatures_required(self) -> bool:
        """Whether an unsigned DCI request is refused: the setting, or production mode when it is unset."""
        if self.dci_signature_required is None:
            return self.mode is Mode.PRODUCTION
        return self.dci_signature_required

    def dci_private_callbacks_allowed(self) -> bool:
        """Whether a DCI callback may go to a loopback or private address: the setting, or development mode."""
        if self.dci_callback_private_allowed is None:
            return self.mode is Mode.DEVELOPMENT
        return self.dci_callback_private_allowed

    def json_logs(self) -> bool:
        """Whether the server writes JSON log lines: the setting, or production mode when it is unset."""
        if self.log_format is None:
            return self.mode is Mode.PRODUCTION
        return self.log_format is LogFormat.JSON

    def trusted_proxy_networks(self) -> list[str]:
        """The trusted proxies as CIDR networks (a single address as its /32 or /128); empty: trust none."""
        return [item for item in self.trusted_proxies.split(",") if item]

    def secret_problem(self) -> str | None:
        """Why the secret key or the audit key may not be used in this mode, or None."""
        if self.mode is Mode.DEVELOPMENT:
            return None
        if self.secret_key == DEVELOPMENT_SECRET:
            return "SIKS_SECRET_KEY is the development default; set a secret of at least 32 random characters"
        if len(self.secret_key) < 32:
            return "SIKS_SECRET_KEY is shorter than 32 characters"
        return self.audit_key_problem()

    def audit_key_problem(self) -> str | None:
        """Why the audit key may not key the audit log in this mode, or None."""
        if self.mode is Mode.DEVELOPMENT:
            return None
        if self.audit_key == DEVELOPMENT_AUDIT_KEY:
            return "SIKS_AUDIT_KEY is the development default; set a key of at least 32 random characters"
        if len(self.audit_key) < 32:
            return "SIKS_AUDIT_KEY is shorter than 32 characters"
        if self.audit_key == self.secret_key:
            return "SIKS_AUDIT_KEY must differ from SIKS_SECRET_KEY"
        return None

    def retired_audit_keys(self) -> list[str]:
        if self.audit_retired_keys is None:
            return []
        return [key.strip() for key in self.audit_retired_keys.split(",") if key.strip()]

    def plugin_allowlist(self) -> list[str] | None:
        if self.plugins is None:
            return None
        return [name.strip() for name in self.plugins.split(",") if name.strip()]

    @property
    def through_transaction_pooler(self) -> bool:
        return self.database_pooler is Pooler.TRANSACTION and not self.is_sqlite

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def sqlite_path(self) -> Path | None:
        if not self.is_sqlite:
            return None
        path = self.database_url.split("///", 1)[-1]
        return None if path in ("", ":memory:") else Path(path)

    def cors_origin_list(self) -> list[str]:
        """The origins of ``SIKS_CORS_ORIGINS``, without a trailing slash; empty: no cross-origin calls."""
        if self.cors_origins is None:
            return []
        return [origin.strip().rstrip("/") for origin in self.cors_origins.split(",") if origin.strip()]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
