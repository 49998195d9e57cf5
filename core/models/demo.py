"""The demo population's runs (``siks demo``): what each was asked for and how far it got."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger
from sqlmodel import Field, SQLModel

from core.models.types import ID_TYPE, TIMESTAMP


class DemoRun(SQLModel, table=True):
    """One ``siks demo`` run, written with each of its batches, so a killed run is resumed, not repeated.

    The arguments (households, seed, batch size, survey share, append) name the run; ``as_of``
    keeps the day its ages refer to, so a run resumed in another year draws the same people.
    """

    __tablename__ = "demo_runs"

    id: int = Field(primary_key=True, sa_type=ID_TYPE)
    households: int
    seed: int = Field(sa_type=BigInteger())
    batch_size: int
    survey_share: float
    append: bool = Field(description="Run with --append.")
    appended: bool = Field(description="Households were in the registry when the run started.")
    as_of: date
    batches_written: int = 0
    households_written: int = 0
    members_written: int = 0
    surveys_written: int = 0
    started_at: datetime = Field(sa_type=TIMESTAMP)
    finished_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)
