"""What a program plugin declares: identity, facts, eligibility rules, benefits, disbursement.

Everything here is declarative and set-based: a rule is a SQL predicate over one row of
household facts (for whole-population runs) plus the words that explain its outcome for one
household; a benefit is a SELECT of component rows. Nothing iterates over households in Python.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar

from sqlalchemy import ColumnElement, FromClause, Select

from core.programs.periods import Period, PeriodKind, current_period


@dataclass(frozen=True, slots=True)
class FactContext:
    """What a household fact's member condition may use."""

    members: FromClause  # the members table (active members only reach the aggregate)
    period: Period

    def school_level(self) -> ColumnElement[str] | None:
        """Per member, the education level the school registry (Dapodik) found them enrolled at.

        ``primary``, ``junior_high`` or ``senior_high`` for a child enrolled, ``none`` for a child
        not enrolled, NULL for a member Dapodik did not check; None (no column at all) where no
        Dapodik outcome is available, e.g. before any check run completed. The outcome is the one
        of the latest completed check run (docs/identity-consequences.md).
        """
        return self.members.c.get("school_level")

    def born_after(self, years: int) -> date:
        """Members born after this date are younger than ``years`` at the period's start."""
        start = self.period.start
        try:
            return start.replace(year=start.year - years)
        except ValueError:  # 29 February
            return start.replace(year=start.year - years, day=28)


@dataclass(frozen=True, slots=True)
class HouseholdFact:
    """A per-household count: how many active members meet ``condition``.

    Facts become columns of the household-facts row that eligibility rules and benefits read;
    names are unique across core and all plugins.
    """

    name: str
    description: str
    condition: Callable[[FactContext], ColumnElement[bool]]


@dataclass(frozen=True, slots=True)
class RuleContext:
    """What an eligibility rule sees: one facts row per household, the period and the program's settings."""

    facts: FromClause
    period: Period
    config: Mapping[str, Any]


class EligibilityRule(ABC):
    """One condition of a program's eligibility."""

    #: Short stable identifier, e.g. ``decile``.
    code: str
    #: One sentence for documentation and the schema.
    description: str

    @abstractmethod
    def predicate(self, ctx: RuleContext) -> ColumnElement[bool]:
        """SQL that is true for the households that pass this rule (over ``ctx.facts``)."""

    @abstractmethod
    def explain(self, facts: Mapping[str, Any], config: Mapping[str, Any], passed: bool) -> str:
        """Words for one household, e.g. ``child 0-6`` or ``decile 7 > 4``; ``passed`` comes from the predicate."""


@dataclass(frozen=True, slots=True)
class BenefitContext:
    """What a benefit rule sees."""

    facts: FromClause  # the eligible households' facts rows
    members: FromClause  # the members table
    period: Period
    config: Mapping[str, Any]
    fact_context: FactContext


class BenefitRule(ABC):
    """How much an enrolled household receives in a period, and for what."""

    #: False for a benefit that is one family amount with nothing to break down: its enrollments
    #: store no component rows, and read back with one family component of the whole amount.
    itemised: ClassVar[bool] = True

    @abstractmethod
    def components(self, ctx: BenefitContext) -> Select[Any]:
        """Component rows ``(household_id, member_id, component, amount)`` for the households in ``ctx.facts``.

        ``member_id`` is NULL for a family-level component. The household's benefit is the sum.
        A rule that ranks its components anyway may add a fifth column, ``line`` (1, 2, ... within
        a household, highest amount first); without it core numbers them in that order.
        """


@dataclass(frozen=True, slots=True)
class DisbursementField:
    """A field a program's payment rows carry, e.g. the KKS card number."""

    name: str
    description: str


@dataclass(frozen=True)
class Program:
    """An aid program (bantuan sosial) as a plugin registers it."""

    slug: str
    name: str
    description: str
    period_kind: PeriodKind
    rules: Sequence[EligibilityRule]
    benefit: BenefitRule
    #: Payment channel, e.g. ``kks_card`` or ``post_office``.
    channel: str
    #: Settings per year (amounts, thresholds): ``{2026: {...}}``; the latest year not after the period applies.
    settings: Mapping[int, Mapping[str, Any]]
    #: Slugs of programs whose enrollment in an overlapping period rules this one out.
    excludes: Sequence[str] = ()
    #: Payment stages inside one period (1 = paid once per period).
    stages: int = 1
    disbursement_fields: Sequence[DisbursementField] = field(default_factory=tuple)
    #: Cycles leave out members whose latest completed civil-registry (Adminduk) check says deceased:
    #: they count for no fact or component, and a household eligible only through them is refused.
    refuse_civil_deceased: bool = False

    def settings_on(self, day: date) -> Mapping[str, Any]:
        """The settings in force on ``day``: those of the program's period that contains it."""
        return self.settings_for(current_period(self.period_kind, day))

    def settings_for(self, period: Period) -> Mapping[str, Any]:
        years = [year for year in self.settings if year <= period.year]
        if not years:
            raise LookupError(
                f"program {self.slug} has no settings for {period.label} (first year {min(self.settings)})"
            )
        return self.settings[max(years)]
