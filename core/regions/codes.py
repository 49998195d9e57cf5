"""Dotted Kemendagri region codes: levels, parents and scope ranges.

``32`` province, ``32.01`` regency/city, ``32.01.01`` district, ``32.01.01.2001`` village.
Never BPS codes: those number regions differently.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from core.foundation.enums import RegionLevel

if TYPE_CHECKING:  # the import checking workers load this module and need no SQL
    from sqlalchemy import ColumnElement

_CODE = re.compile(r"[0-9]{2}(\.[0-9]{2}(\.[0-9]{2}(\.[0-9]{4})?)?)?")  # ASCII digits: \d takes any script's
LEVELS: tuple[RegionLevel, ...] = (
    RegionLevel.PROVINCE,
    RegionLevel.REGENCY,
    RegionLevel.DISTRICT,
    RegionLevel.VILLAGE,
)


class RegionCodeError(ValueError):
    """A string that is not a dotted Kemendagri code."""


def is_region_code(code: str) -> bool:
    return _CODE.fullmatch(code) is not None


def check_code(code: str) -> str:
    """The code unchanged, or RegionCodeError saying what a code looks like."""
    if not is_region_code(code):
        raise RegionCodeError(
            f"'{code[:20]}' is not a Kemendagri region code; use the dotted form such as 32, 32.01, "
            "32.01.01 or 32.01.01.2001"
        )
    return code


def level_number(code: str) -> int:
    """1 for a province, up to 4 for a village."""
    return code.count(".") + 1


def level_of(code: str) -> RegionLevel:
    return LEVELS[level_number(code) - 1]


def parent_of(code: str) -> str | None:
    return code.rsplit(".", 1)[0] if "." in code else None


def district_of_nik(digits: str) -> str:
    """The dotted district code in the first six digits of a NIK or KK number."""
    return f"{digits[0:2]}.{digits[2:4]}.{digits[4:6]}"


def region_within(region: str, scope: str) -> bool:
    """The region (a record's village, a requested region) lies in ``scope``: the scope itself or below it.

    ``''`` covers everything. The one Python form of region coverage; ``within`` is the same rule in SQL,
    and the Casbin matcher calls this one (``policies/model.conf``).
    """
    return scope == "" or region == scope or region.startswith(scope + ".")


def within(column: ColumnElement[str], code: str | ColumnElement[str]) -> ColumnElement[bool]:
    """SQL: the code column is ``code`` or lies below it; ``''`` covers everything.

    A half-open range on the byte order (``'.'`` is followed by ``'/'``), which an ordinary
    b-tree index answers, and which never lets ``32.01`` match ``32.011``. ``code`` may itself be a
    column (``within(literal(scope), ROUNDS.c.region_code)``: the row's region contains the scope).
    """
    if isinstance(code, str) and code == "":
        from sqlalchemy import true

        return true()
    return (column == code) | ((column >= code + ".") & (column < code + "/"))
