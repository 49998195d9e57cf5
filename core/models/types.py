"""Column types shared by the tables."""

from __future__ import annotations

from sqlalchemy import BigInteger, DateTime, String
from sqlalchemy.types import TypeEngine


def code_type(length: int = 13) -> TypeEngine[str]:
    """A dotted region code compared byte by byte, so prefix ranges use the index on any locale."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


ID_TYPE = BigInteger()
TIMESTAMP = DateTime(timezone=True)
