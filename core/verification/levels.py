"""The five levels of verification and validation, and which role acts at which.

A proposal's ``stage`` is the level that acts next. The village proposes; district, regency/city
and province approve (forward) it one level up, return it one level down or reject it; at the
national level the data centre determines it into a DTKS edition (or returns or rejects it).
"""

from __future__ import annotations

from core.auth.principal import Role
from core.foundation.enums import VerificationLevel

CHAIN: tuple[VerificationLevel, ...] = tuple(VerificationLevel)

#: The level each chain role acts at; other roles take no step.
ROLE_LEVEL: dict[str, VerificationLevel] = {
    Role.VILLAGE_OPERATOR.value: VerificationLevel.VILLAGE,
    Role.DISTRICT_OFFICER.value: VerificationLevel.DISTRICT,
    Role.REGENCY_OFFICE.value: VerificationLevel.REGENCY,
    Role.PROVINCE_OFFICE.value: VerificationLevel.PROVINCE,
    Role.DATA_CENTRE.value: VerificationLevel.NATIONAL,
}

#: Roles that see the original photos, location metadata included (the officers of the chain).
OFFICER_ROLES: frozenset[str] = frozenset(ROLE_LEVEL)


def level_of_role(role: str) -> VerificationLevel | None:
    return ROLE_LEVEL.get(role)


def above(level: VerificationLevel) -> VerificationLevel | None:
    """The next level up (None above national)."""
    index = CHAIN.index(level)
    return CHAIN[index + 1] if index + 1 < len(CHAIN) else None


def below(level: VerificationLevel) -> VerificationLevel | None:
    """The level a return sends a proposal back to (None below the village)."""
    index = CHAIN.index(level)
    return CHAIN[index - 1] if index > 0 else None
