"""How many items each list field of the schema returns at most: the sizes the query cost is priced with.

A list paged with ``first`` counts its page (``core/schema/cost.py``); every other list declares
its size here, as a *hint*: an object whose ``size(arguments, parent, known)`` says how many
items the field returns for one parent item at most (``Sized.items``), and what those items are
(``Sized.detail``), for the hints of the fields below. The region hierarchy passes its level
down: ``regions(level: DISTRICT)`` is 7,285 districts, a district's ``children`` at most 108
villages, a village's ``children`` none, and ``children { parent { children ... } } }`` is priced
hop by hop at those sizes, so no cycle through the hierarchy is cheap. The figures come from the
loaded region table (``core/regions/sizes.py``), never below the national list.

Sizes are worst cases where the data give them (the region table, the installed programs and
their rules, a batch argument's length), not averages: with an average, a caller would pick the
district with 108 villages and multiply. Lists that grow with the data (a family's members, its
enrollment history, a report's cases) declare a bound, and the response cap
(``SIKS_MAX_RESPONSE_BYTES``, ``core/schema/limits.py``) stops an answer a bound underestimates.

Core's fields are declared in ``CORE_SIZES`` (one table, checked by a test against the schema,
so a new unpaged list of core cannot go undeclared); a plugin declares its own on the field:
``strawberry.field(resolver=..., metadata=sized(Items(20, "why")))``. A list that declares
nothing counts ``UNDECLARED_ITEMS``. Arguments are the request's: variables are priced with the
values sent (``VARIABLE`` only when the estimate runs without them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from graphql import GraphQLField
from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.schema.schema_converter import GraphQLCoreConverter

from core.foundation.enums import GrievanceStatus
from core.grievances.cases import AGE_BANDS, ESCALATION
from core.programs.integrators import MAX_BATCH as MAX_ELIGIBILITY_BATCH
from core.programs.registry import ProgramRegistry
from core.regions.codes import LEVELS, is_region_code, level_number
from core.regions.sizes import NATIONAL, RegionSizes, region_sizes
from core.schema.welfare import MAX_FACTORS
from core.verification.chain import MAX_BATCH as MAX_APPROVALS
from core.verification.determination import CONFLICT_REASONS
from core.welfare.evaluate import COVERAGES

#: Items a list counts that declares no size (a plugin's list without ``sized``): a conservative guess.
UNDECLARED_ITEMS = 100
#: The key of a field's strawberry metadata holding its hint.
SIZE_HINT = "siks.size"
#: An argument given by a variable: its value is unknown until the query runs.
VARIABLE = object()

Arguments = Mapping[str, Any]


@dataclass
class Known:
    """What the estimate knows about the data: the region hierarchy's sizes (the national list until loaded)
    and the application's programs (``build_schema`` sets them from its registry)."""

    regions: RegionSizes = NATIONAL
    registry: ProgramRegistry | None = None

    async def load(self, engine: AsyncEngine) -> None:
        """Read the loaded region table's sizes; a smaller list than the national one prices as the national one."""
        async with engine.connect() as conn:
            self.regions = (await region_sizes(conn)).at_least(NATIONAL)


@dataclass(frozen=True, slots=True)
class Sized:
    """A field's size for one parent item (a field that is not a list: 1, or 0 when it is always null)."""

    items: int
    detail: Any = None  # what the items are, for the hints below (a region level); None when unknown


class SizeHint(Protocol):
    def size(self, arguments: Arguments, parent: Any, known: Known) -> Sized:
        """This field's size given its literal ``arguments`` (``VARIABLE`` when given by a variable) and
        what its parent item is (the ``detail`` of the field above; None when unknown)."""
        ...


#: The key of a connection field's metadata holding the page it answers when neither first nor last is given.
PAGE_DEFAULT = "siks.page_default"


def paged(default: int) -> dict[str, int]:
    """A connection field's ``metadata``: its page size when the caller gives neither ``first`` nor ``last``."""
    return {PAGE_DEFAULT: default}


def sized(hint: SizeHint) -> dict[str, SizeHint]:
    """A strawberry field's ``metadata`` declaring its size: ``strawberry.field(metadata=sized(Items(20, "why")))``."""
    return {SIZE_HINT: hint}


@dataclass(frozen=True, slots=True)
class Items:
    """At most ``most`` items, for the reason ``why``."""

    most: int
    why: str

    def size(self, arguments: Arguments, parent: Any, known: Known) -> Sized:
        return Sized(self.most)


@dataclass(frozen=True, slots=True)
class OnePerArgumentItem:
    """One item for each item of the list argument ``argument`` (``most`` when not known yet); none above ``most``,
    which the resolver refuses with its own message."""

    argument: str
    most: int

    def size(self, arguments: Arguments, parent: Any, known: Known) -> Sized:
        given = arguments.get(self.argument, VARIABLE)
        if given is VARIABLE:
            return Sized(self.most)
        count = len(given) if isinstance(given, list) else 1
        return Sized(count if count <= self.most else 0)


@dataclass(frozen=True, slots=True)
class PerProgram:
    """One item per installed program (``what`` is ``programs``), or per rule of the program with the most
    (``rules``): read from the loaded plugins."""

    what: str

    def size(self, arguments: Arguments, parent: Any, known: Known) -> Sized:
        programs = known.registry.programs.values() if known.registry is not None else ()
        if self.what == "programs":
            return Sized(len(programs))
        return Sized(max((len(getattr(program, self.what)) for program in programs), default=0))


@dataclass(frozen=True, slots=True)
class UpToArgument:
    """As many items as the integer argument ``argument`` says (``default`` when left out, ``most`` at most)."""

    argument: str
    default: int
    most: int

    def size(self, arguments: Arguments, parent: Any, known: Known) -> Sized:
        given = arguments.get(self.argument, self.default)
        return Sized(min(max(given, 0), self.most) if isinstance(given, int) else self.most)


@dataclass(frozen=True, slots=True)
class PageOfConnection:
    """A connection's edges: the page its field asked for (``first``), passed down as the parent's detail."""

    def size(self, arguments: Arguments, parent: Any, known: Known) -> Sized:
        return Sized(parent if isinstance(parent, int) else UNDECLARED_ITEMS)


# --- the region hierarchy: the detail is the level of the regions (1 province … 4 village) ---------------------


def _level_of_code(value: Any) -> int | None:
    return level_number(value) if isinstance(value, str) and is_region_code(value) else None


def _level_of_name(value: Any) -> int | None:
    names = [level.name for level in LEVELS]
    return names.index(value) + 1 if value in names else None


@dataclass(frozen=True, slots=True)
class RegionsListed:
    """``regions(parentCode, level)``: a level of the country (below ``parentCode`` when given), or the children of
    ``parentCode``, or the provinces."""

    def size(self, arguments: Arguments, parent: Any, known: Known) -> Sized:
        sizes = known.regions
        level, code = arguments.get("level"), arguments.get("parentCode")
        if level is VARIABLE:
            return Sized(max(self._at(sizes, wanted, code) for wanted in range(1, 5)))
        wanted = _level_of_name(level) if level is not None else None
        if wanted is not None:
            return Sized(self._at(sizes, wanted, code), wanted)
        if code is None:
            return Sized(sizes.at(1), 1)
        parent_level = _level_of_code(code)
        if parent_level is None:  # a variable (null gives the provinces) or a code the resolver will refuse
            return Sized(max(sizes.most_children(), sizes.at(1)))
        return Sized(sizes.children(parent_level), parent_level + 1)

    @staticmethod
    def _at(sizes: RegionSizes, level: int, code: Any) -> int:
        parent_level = _level_of_code(code)
        return sizes.under(parent_level, level) if parent_level is not None else sizes.at(level)


@dataclass(frozen=True, slots=True)
class RegionChildren:
    """``Region.children``: the most children a region of the parent's level has (of any level when unknown)."""

    def size(self, arguments: Arguments, parent: Any, known: Known) -> Sized:
        if isinstance(parent, int):
            return Sized(known.regions.children(parent), parent + 1)
        return Sized(known.regions.most_children())


@dataclass(frozen=True, slots=True)
class RegionParent:
    """``Region.parent``: the region one level up; none above a province."""

    def size(self, arguments: Arguments, parent: Any, known: Known) -> Sized:
        if isinstance(parent, int):
            return Sized(1, parent - 1) if parent > 1 else Sized(0)
        return Sized(1)


@dataclass(frozen=True, slots=True)
class RegionAt:
    """A single region at a known level (``level``), or at the level of the code argument ``argument``."""

    level: int | None = None
    argument: str | None = None

    def size(self, arguments: Arguments, parent: Any, known: Known) -> Sized:
        if self.level is not None:
            return Sized(1, self.level)
        return Sized(1, _level_of_code(arguments.get(self.argument or "")))


@dataclass(frozen=True, slots=True)
class RegionsOneLevelDown:
    """One row per region one level below a region given to the field above: at most the most children any has."""

    def size(self, arguments: Arguments, parent: Any, known: Known) -> Sized:
        return Sized(max(known.regions.most_children(), known.regions.at(1)))


# --- core's declarations ----------------------------------------------------------------------------------------

_PROGRAMS = PerProgram("programs")

#: Every list of objects in core's schema without ``first``, and the fields passing a region level down. A list of
#: scalars (a case's ``householdIds``, a verdict's ``reasons``) counts once, as any scalar field: its items are
#: plain values, resolved by nothing, and the answer's size cap bounds how many.
CORE_SIZES: dict[str, SizeHint] = {
    "Query.regions": RegionsListed(),
    "Query.region": RegionAt(argument="code"),
    "Region.children": RegionChildren(),
    "Region.parent": RegionParent(),
    "Household.region": RegionAt(level=4),
    "Proposal.village": RegionAt(level=4),
    "Household.members": Items(20, "members of one family card (KK): 4 on average, 20 for the largest"),
    "HouseholdConnection.edges": PageOfConnection(),
    "ProposalConnection.edges": PageOfConnection(),
    "PrelistConnection.entries": PageOfConnection(),
    "HouseholdPrograms.enrollments": Items(48, "a family's enrollments: two years of two monthly programs"),
    "Enrollment.components": Items(10, "benefit lines of one enrollment: PKH pays at most 4 components"),
    "EligibilityAnswer.programs": _PROGRAMS,
    "Programs.installed": _PROGRAMS,
    "ProgramInfo.rules": PerProgram("rules"),
    "Query.eligibilityBatch": OnePerArgumentItem("niks", MAX_ELIGIBILITY_BATCH),
    "Query.reconciliation": Items(5_000, "lines per program, period and regency: 4 programs × 514 a period"),
    "Query.welfareModels": Items(100, "welfare model versions kept"),
    "Query.verificationRounds": Items(100, "verification rounds: a few a year"),
    "Mutation.approveProposals": OnePerArgumentItem("ids", MAX_APPROVALS),
    "CyclePreview.regions": RegionsOneLevelDown(),
    "RoundProgress.regions": RegionsOneLevelDown(),
    "Determination.conflicts": Items(len(CONFLICT_REASONS), "one line per conflict reason"),
    "DoubleRecipientReportType.cases": Items(1_000, "cases in one report; a larger report meets the response cap"),
    "DoubleRecipientCase.enrollments": Items(10, "enrollments named by one case"),
    "Proposal.steps": Items(20, "steps up the hierarchy (village to ministry), with returns"),
    "Proposal.changes": Items(100, "values one proposal changes, members' included"),
    "ValidationError.fields": Items(100, "fields one input can get wrong"),
    "Visit.photos": Items(10, "photos of one visit: five kinds, with retakes"),
    "Welfare.factors": UpToArgument("limit", default=10, most=MAX_FACTORS),
    "WelfareEvaluation.targeting": Items(len(COVERAGES), "one line per coverage evaluated"),
    "Member.identityChecks": Items(3, "one outcome per reference source: Adminduk, Dapodik, BPJS"),
    "IdentityDiscrepancyConnection.edges": PageOfConnection(),
    "IdentityRunSummary.regions": RegionsOneLevelDown(),
    "IdentityRegionCounts.counts": Items(10, "one line per source and outcome: 6 + 2 + 2"),
    "Proposal.photos": Items(1, "the photo of the house a citizen's usul may carry (SIKS-Dataku): one"),
    "GrievanceCounts.byStatus": Items(len(GrievanceStatus), "one line per grievance status"),
    "GrievanceCounts.byAge": Items(len(AGE_BANDS), "one line per age band"),
    "Escalation.byLevel": Items(len(ESCALATION), "one line per level a case can leave"),
}


def hint_of(parent_type: str, name: str, field_def: GraphQLField) -> SizeHint | None:
    """The field's hint: its own (a plugin's ``sized`` metadata), else core's declaration, else None."""
    definition = field_def.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF) if field_def.extensions else None
    metadata = getattr(definition, "metadata", None) or {}
    declared = metadata.get(SIZE_HINT)
    return declared if declared is not None else CORE_SIZES.get(f"{parent_type}.{name}")
