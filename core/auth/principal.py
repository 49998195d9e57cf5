"""Who is asking: a user, an integrator's API key, or the anonymous public."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    VILLAGE_OPERATOR = "village_operator"
    DISTRICT_OFFICER = "district_officer"
    REGENCY_OFFICE = "regency_office"
    PROVINCE_OFFICE = "province_office"
    DATA_CENTRE = "data_centre"
    PROGRAM_OFFICER = "program_officer"
    INTEGRATOR = "integrator"
    AUDITOR = "auditor"
    PUBLIC = "public"


#: The region level a role's scope must be at ('' = national). None: any level.
SCOPE_LEVEL: dict[Role, int | None] = {
    Role.VILLAGE_OPERATOR: 4,
    Role.DISTRICT_OFFICER: 3,
    Role.REGENCY_OFFICE: 2,
    Role.PROVINCE_OFFICE: 1,
    Role.DATA_CENTRE: 0,
    Role.PROGRAM_OFFICER: None,
    Role.INTEGRATOR: None,
    Role.AUDITOR: None,
    Role.PUBLIC: 0,
}


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of a request. ``scope`` is a dotted region code; '' covers the whole country."""

    username: str
    role: str
    scope: str
    user_id: int | None = None
    via: str = "token"  # token, api_key, anonymous, cli

    @property
    def is_public(self) -> bool:
        return self.role == Role.PUBLIC.value


PUBLIC = Principal(username="public", role=Role.PUBLIC.value, scope="", via="anonymous")
