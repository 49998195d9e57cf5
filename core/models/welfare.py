"""Welfare models (the registry) and the staging of ranking runs. The ranks themselves are ``welfare_ranks``."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Index, text
from sqlmodel import Field, SQLModel

from core.models.types import ID_TYPE, TIMESTAMP, code_type

ACTIVE_MODEL = text("active")


class WelfareModelEntry(SQLModel, table=True):
    """A trained welfare model: its file under the model directory plus what it was made from and how good it is.

    At most one row is active (a partial unique index); ranking uses that one.
    """

    __tablename__ = "welfare_models"
    __table_args__ = (
        Index(
            "ix_welfare_models_one_active",
            "active",
            unique=True,
            sqlite_where=ACTIVE_MODEL,
            postgresql_where=ACTIVE_MODEL,
        ),
    )

    version: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=12, description="pmt or catboost")
    file_name: str = Field(max_length=200, description="Inside the model directory (SIKS_MODEL_DIR).")
    file_sha256: str = Field(max_length=64)
    feature_set: str = Field(max_length=64)
    features: list[str] = Field(sa_type=JSON)
    parameters: dict[str, Any] = Field(sa_type=JSON)
    training_source: str = Field(max_length=200)
    training_checksum: str = Field(max_length=64, description="sha256 of the training data as read.")
    training_rows: int
    metrics: dict[str, Any] = Field(sa_type=JSON, description="Held-out evaluation and later evaluations.")
    author: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=TIMESTAMP)
    active: bool = False
    activated_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)
    activated_by: str | None = Field(default=None, max_length=64)


class WelfareRankRun(SQLModel, table=True):
    """One run of ``siks rank apply``: national (no region) or one region; resumable until it completes."""

    __tablename__ = "welfare_rank_runs"

    id: int = Field(primary_key=True, sa_type=ID_TYPE)
    model_version: str = Field(max_length=64)
    region_code: str | None = Field(default=None, sa_type=code_type())
    status: str = Field(max_length=12, description="running, completed or abandoned")
    as_of: date = Field(description="The day ages are counted to.")
    last_household_id: int = Field(default=0, sa_type=ID_TYPE, description="Scored up to here (keyset cursor).")
    households_scored: int = 0
    unseen_answers: dict[str, int] = Field(default_factory=dict, sa_type=JSON)
    started_at: datetime = Field(sa_type=TIMESTAMP)
    finished_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)


class WelfareRankScore(SQLModel, table=True):
    """A score computed by a running run, waiting for the run to finish; deleted when it does."""

    __tablename__ = "welfare_rank_scores"

    run_id: int = Field(primary_key=True, sa_type=ID_TYPE)
    household_id: int = Field(primary_key=True, sa_type=ID_TYPE)
    score: float
