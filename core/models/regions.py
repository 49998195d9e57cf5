"""The Kemendagri regional hierarchy (wilayah administrasi)."""

from __future__ import annotations

from sqlmodel import Field, SQLModel

from core.models.types import code_type


class Region(SQLModel, table=True):
    """A province, regency/city, district (kecamatan) or village (desa/kelurahan).

    ``code`` is the dotted Kemendagri code (``32``, ``32.01``, ``32.01.01``, ``32.01.01.2001``);
    ``level`` is 1 to 4 in that order.
    """

    __tablename__ = "regions"

    code: str = Field(primary_key=True, sa_type=code_type())
    name: str = Field(max_length=120)
    level: int = Field(index=True)
    parent_code: str | None = Field(default=None, index=True, sa_type=code_type())
