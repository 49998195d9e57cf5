"""Database tables. Import this package before using ``SQLModel.metadata``."""

from core.models.households import Household, Member, WelfareSurvey
from core.models.regions import Region

__all__ = ["Household", "Member", "Region", "WelfareSurvey"]
