"""DCI search: the query types ``idtype-value``, ``expression`` and ``predicate`` as SQL, within a scope.

Searchable attributes of a household (see docs/dci.md): ``region_code`` (a Kemendagri code; a region
covers everything below it), ``poverty_score`` (national decile 1-10), ``group_size`` (active members),
``programme`` (enrolled in it at any time), ``enrolment_status`` (``active``: enrolled in a period
containing today; ``ended``: enrolled before, not now), ``registration_date`` and ``last_updated``.
Identifier types: ``KK`` (family card) and ``NIK``. Every query is limited to the caller's region
scope in SQL (``core.regions.codes.within``) and to active households and members.

A request this module cannot answer raises ``SearchRejected`` with the spec's status reason code
(``rjct.search_criteria.invalid``, ``rjct.sort.invalid``, ``rjct.pagination.invalid``).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.dci.mapping import KK, NIK, group_record, person_record
from core.foundation.enums import MemberStatus
from core.models import Enrollment, WelfareRank
from core.regions.codes import is_region_code, within
from core.storage.records import HOUSEHOLDS, MEMBERS

ENROLMENTS = Enrollment.__table__
RANKS = WelfareRank.__table__
ACTIVE = "active"
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
QUERY_TYPES = ("idtype-value", "expression", "predicate")
ENTITIES = ("Group", "Member")
OPERATORS = ("eq", "lt", "gt", "le", "ge", "in")
#: The NoSQL-style operators of an ``expression`` query and the predicate operator each means.
EXPRESSION_OPERATORS = {"$eq": "eq", "$lt": "lt", "$gt": "gt", "$lte": "le", "$gte": "ge", "$in": "in"}
_DIGITS16 = re.compile(r"[0-9]{16}")

GROUP_SIZE = (
    select(func.count())
    .where(MEMBERS.c.household_id == HOUSEHOLDS.c.id, MEMBERS.c.status == MemberStatus.ACTIVE.value)
    .scalar_subquery()
)


class SearchRejected(ValueError):
    """A search request that cannot be answered; ``reason_code`` is the spec's ``SearchStatusReasonCode``."""

    def __init__(self, reason_code: str, message: str) -> None:
        super().__init__(message)
        self.reason_code = reason_code
        self.message = message


def _invalid(message: str) -> SearchRejected:
    return SearchRejected("rjct.search_criteria.invalid", message)


@dataclass(frozen=True, slots=True)
class Criteria:
    """One ``search_criteria``, checked: what to find, how to order it, which page."""

    query_type: str
    condition: ColumnElement[bool]
    entity: str = "Group"
    sort: list[tuple[str, bool]] = field(default_factory=list)  # (attribute, descending)
    page_size: int = DEFAULT_PAGE_SIZE
    page_number: int = 1


@dataclass(slots=True)
class Page:
    records: list[dict[str, Any]]
    page_size: int
    page_number: int
    total_count: int

    def pagination(self) -> dict[str, int]:
        return {"page_size": self.page_size, "page_number": self.page_number, "total_count": self.total_count}


# -- attributes -------------------------------------------------------------------------------------------


def _number(value: Any, attribute: str) -> int:
    if isinstance(value, bool):
        raise _invalid(f"{attribute} takes a whole number, not {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _invalid(f"{attribute} takes a whole number, not {str(value)[:30]!r}") from None
    if not number.is_integer():
        raise _invalid(f"{attribute} takes a whole number, not {str(value)[:30]!r}")
    return int(number)


def _compare(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    comparisons: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
        "eq": lambda c, v: c == v,
        "lt": lambda c, v: c < v,
        "gt": lambda c, v: c > v,
        "le": lambda c, v: c <= v,
        "ge": lambda c, v: c >= v,
    }
    return comparisons[op](column, value)


def _values(op: str, value: Any, attribute: str) -> list[Any]:
    """The values an ``in`` names (a list), or the one value of another operator."""
    if op == "in":
        if not isinstance(value, list) or not value:
            raise _invalid(f"operator 'in' on {attribute} takes a non-empty list")
        return value
    if isinstance(value, list | dict):
        raise _invalid(f"operator '{op}' on {attribute} takes one value, not a list or object")
    return [value]


def _numeric(column: Any, attribute: str, low: int, high: int) -> Callable[[str, Any], ColumnElement[bool]]:
    def condition(op: str, value: Any) -> ColumnElement[bool]:
        numbers = [_number(v, attribute) for v in _values(op, value, attribute)]
        for number in numbers:
            if not low <= number <= high:
                raise _invalid(f"{attribute} lies between {low} and {high}; {number} is outside")
        return column.in_(numbers) if op == "in" else _compare(column, op, numbers[0])

    return condition


def _region(op: str, value: Any) -> ColumnElement[bool]:
    if op not in ("eq", "in"):
        raise _invalid("region_code takes the operators eq and in")
    codes = [str(v) for v in _values(op, value, "region_code")]
    for code in codes:
        if not is_region_code(code):
            raise _invalid(f"region_code '{code[:20]}' is not a Kemendagri code such as 32, 32.01 or 32.01.01.2001")
    return or_(*(within(HOUSEHOLDS.c.village_code, code) for code in codes))


def _programme(op: str, value: Any) -> ColumnElement[bool]:
    if op not in ("eq", "in"):
        raise _invalid("programme takes the operators eq and in")
    names = [str(v).lower() for v in _values(op, value, "programme")]
    return HOUSEHOLDS.c.id.in_(select(ENROLMENTS.c.household_id).where(ENROLMENTS.c.program.in_(names)))


def _enrolment_status(today: date) -> Callable[[str, Any], ColumnElement[bool]]:
    current = HOUSEHOLDS.c.id.in_(
        select(ENROLMENTS.c.household_id).where(ENROLMENTS.c.period_start <= today, ENROLMENTS.c.period_end >= today)
    )
    earlier = HOUSEHOLDS.c.id.in_(select(ENROLMENTS.c.household_id).where(ENROLMENTS.c.period_end < today))

    def condition(op: str, value: Any) -> ColumnElement[bool]:
        if op != "eq" or value not in ("active", "ended"):
            raise _invalid("enrolment_status takes eq with 'active' or 'ended'")
        return current if value == "active" else and_(earlier, not_(current))

    return condition


def _moment(column: Any, attribute: str) -> Callable[[str, Any], ColumnElement[bool]]:
    """A timestamp column compared with a date (the whole day, UTC) or an ISO 8601 timestamp."""

    def parse(value: Any) -> tuple[datetime, datetime]:
        text = str(value)
        try:
            if len(text) == 10:
                day = date.fromisoformat(text)
                start = datetime.combine(day, time(), UTC)
                return start, start + timedelta(days=1)
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise _invalid(
                f"{attribute} takes a date (2026-01-31) or an ISO 8601 timestamp, not {text[:30]!r}"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment, moment

    def condition(op: str, value: Any) -> ColumnElement[bool]:
        if op == "in":
            raise _invalid(f"{attribute} takes the operators eq, lt, gt, le and ge")
        start, end = parse(_values(op, value, attribute)[0])
        if start == end:
            return _compare(column, op, start)
        return {
            "eq": and_(column >= start, column < end),
            "lt": column < start,
            "ge": column >= start,
            "gt": column >= end,
            "le": column < end,
        }[op]

    return condition


def attributes(today: date) -> dict[str, Callable[[str, Any], ColumnElement[bool]]]:
    """The searchable attributes, each a function of (operator, value) giving a SQL condition."""
    return {
        "region_code": _region,
        "poverty_score": _numeric(RANKS.c.decile, "poverty_score", 1, 10),
        "group_size": _numeric(GROUP_SIZE, "group_size", 0, 10_000),
        "programme": _programme,
        "enrolment_status": _enrolment_status(today),
        "registration_date": _moment(HOUSEHOLDS.c.created_at, "registration_date"),
        "last_updated": _moment(HOUSEHOLDS.c.updated_at, "last_updated"),
    }


SORTABLE = {
    "poverty_score": RANKS.c.decile,
    "group_size": GROUP_SIZE,
    "region_code": HOUSEHOLDS.c.village_code,
    "registration_date": HOUSEHOLDS.c.created_at,
    "last_updated": HOUSEHOLDS.c.updated_at,
}


# -- query types ------------------------------------------------------------------------------------------


def _attribute_condition(name: Any, op: str, value: Any, today: date) -> ColumnElement[bool]:
    known = attributes(today)
    if not isinstance(name, str) or name not in known:
        raise _invalid(f"unknown attribute {str(name)[:40]!r}; searchable: {', '.join(known)}")
    if op not in OPERATORS:
        raise _invalid(f"unknown operator {str(op)[:10]!r}; use one of {', '.join(OPERATORS)}")
    return known[name](op, value)


def _identifier_condition(query: Any, entity: str) -> ColumnElement[bool]:
    if not isinstance(query, dict) or "type" not in query or "value" not in query:
        raise _invalid("an idtype-value query is an object with type and value")
    kind = str(query["type"]).upper()
    value = str(query["value"])
    if kind not in (KK, NIK):
        raise _invalid(f"unknown identifier type {str(query['type'])[:20]!r}; use {NIK} or {KK}")
    if not _DIGITS16.fullmatch(value):
        raise _invalid(f"a {kind} number has 16 digits")
    if kind == KK:
        return HOUSEHOLDS.c.kk_number == value
    if entity == "Member":
        return MEMBERS.c.nik == value
    # The NIK's household by the members' NIK index (a correlated EXISTS would probe every household).
    return HOUSEHOLDS.c.id.in_(
        select(MEMBERS.c.household_id).where(MEMBERS.c.nik == value, MEMBERS.c.status == MemberStatus.ACTIVE.value)
    )


def _expression_node(node: Any, today: date) -> ColumnElement[bool]:
    if not isinstance(node, dict) or not node:
        raise _invalid("each part of an expression is a non-empty object")
    parts: list[ColumnElement[bool]] = []
    for key, value in node.items():
        if key in ("$and", "$or"):
            if not isinstance(value, list) or not value:
                raise _invalid(f"{key} takes a non-empty list of expressions")
            children = [_expression_node(child, today) for child in value]
            parts.append(and_(*children) if key == "$and" else or_(*children))
        elif key == "$not":
            parts.append(not_(_expression_node(value, today)))
        elif isinstance(value, dict):
            for op, operand in value.items():
                if op not in EXPRESSION_OPERATORS:
                    raise _invalid(f"unknown operator {str(op)[:10]!r}; use {', '.join(EXPRESSION_OPERATORS)}")
                parts.append(_attribute_condition(key, EXPRESSION_OPERATORS[op], operand, today))
        else:
            parts.append(_attribute_condition(key, "eq", value, today))
    return and_(*parts)


def _expression_condition(query: Any, today: date) -> ColumnElement[bool]:
    """``{"collection": "Group", "query": {...}}``, or wrapped as ``{"type": ..., "value": {"expression": ...}}``."""
    if isinstance(query, dict) and isinstance(query.get("value"), dict) and "expression" in query["value"]:
        query = query["value"]["expression"]
    if not isinstance(query, dict) or not isinstance(query.get("query"), dict):
        raise _invalid('an expression query is {"collection": "Group", "query": {...}}')
    collection = query.get("collection", "Group")
    if collection not in ENTITIES:
        raise _invalid(f"unknown collection {str(collection)[:20]!r}; use Group or Member")
    return _expression_node(query["query"], today)


def _predicate_condition(query: Any, today: date) -> ColumnElement[bool]:
    """A list of ``expression1 [condition expression2]``, in ``seq_num`` order, all of which must hold."""
    if not isinstance(query, list) or not query:
        raise _invalid("a predicate query is a non-empty list of expressions")

    def one(expression: Any) -> ColumnElement[bool]:
        if not isinstance(expression, dict):
            raise _invalid("expression1 and expression2 are objects with attribute_name, operator, attribute_value")
        for key in ("attribute_name", "operator", "attribute_value"):
            if key not in expression:
                raise _invalid(f"a predicate expression lacks {key}")
        return _attribute_condition(
            expression["attribute_name"], expression["operator"], expression["attribute_value"], today
        )

    parts: list[ColumnElement[bool]] = []
    ordered = sorted(query, key=lambda item: item.get("seq_num", 0) if isinstance(item, dict) else 0)
    for item in ordered:
        if not isinstance(item, dict) or "expression1" not in item:
            raise _invalid("each predicate has an expression1")
        first = one(item["expression1"])
        condition = item.get("condition")
        if condition is None and "expression2" not in item:
            parts.append(first)
            continue
        if "expression2" not in item:
            raise _invalid(f"condition {str(condition)[:10]!r} needs an expression2")
        second = one(item["expression2"])
        if condition == "and":
            parts.append(and_(first, second))
        elif condition == "or":
            parts.append(or_(first, second))
        elif condition == "not":
            parts.append(and_(first, not_(second)))
        else:
            raise _invalid("condition is one of and, or, not")
    return and_(*parts)


def _page_number(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not float(value).is_integer():
        raise SearchRejected("rjct.pagination.invalid", f"{name} must be a whole number")
    number = int(value)
    if not low <= number <= high:
        raise SearchRejected("rjct.pagination.invalid", f"{name} must lie between {low:,} and {high:,}")
    return number


def parse_criteria(criteria: Any, today: date) -> Criteria:
    """A ``search_criteria`` object checked and turned into SQL; SearchRejected says what was wrong."""
    if not isinstance(criteria, dict):
        raise _invalid("search_criteria must be an object")
    query_type = criteria.get("query_type")
    if query_type not in QUERY_TYPES:
        raise _invalid(f"query_type must be one of {', '.join(QUERY_TYPES)}")
    entity = criteria.get("response_entity") or "Group"
    if entity not in ENTITIES:
        raise _invalid(f"response_entity must be Group or Member, not {str(entity)[:20]!r}")
    query = criteria.get("query")
    if query_type == "idtype-value":
        condition = _identifier_condition(query, entity)
    elif query_type == "expression":
        condition = _expression_condition(query, today)
    else:
        condition = _predicate_condition(query, today)
    sort: list[tuple[str, bool]] = []
    for item in criteria.get("sort") or []:
        if not isinstance(item, dict) or item.get("attribute_name") not in SORTABLE:
            raise SearchRejected("rjct.sort.invalid", f"sort by one of {', '.join(SORTABLE)}")
        order = item.get("sort_order", "asc")
        if order not in ("asc", "desc"):
            raise SearchRejected("rjct.sort.invalid", "sort_order is asc or desc")
        sort.append((item["attribute_name"], order == "desc"))
    page_size, page_number = DEFAULT_PAGE_SIZE, 1
    pagination = criteria.get("pagination")
    if pagination is not None:
        if not isinstance(pagination, dict) or "page_size" not in pagination:
            raise SearchRejected("rjct.pagination.invalid", "pagination needs page_size")
        page_size = _page_number(pagination["page_size"], "page_size", 1, MAX_PAGE_SIZE)
        page_number = _page_number(pagination.get("page_number", 1), "page_number", 1, 10_000_000)
    return Criteria(query_type, condition, entity, sort, page_size, page_number)


# -- running ----------------------------------------------------------------------------------------------


def _filtered(criteria: Criteria, scope: str, columns: list[Any]) -> Any:
    """SELECT ``columns`` of the active households (and members, for Member) matching within ``scope``."""
    source = HOUSEHOLDS.outerjoin(RANKS, RANKS.c.household_id == HOUSEHOLDS.c.id)
    conditions = [HOUSEHOLDS.c.status == ACTIVE, within(HOUSEHOLDS.c.village_code, scope), criteria.condition]
    if criteria.entity == "Member":
        source = source.join(MEMBERS, MEMBERS.c.household_id == HOUSEHOLDS.c.id)
        conditions.append(MEMBERS.c.status == MemberStatus.ACTIVE.value)
    return select(*columns).select_from(source).where(*conditions)


async def search(conn: AsyncConnection, criteria: Criteria, scope: str, today: date | None = None) -> Page:
    """One page of records matching ``criteria`` within ``scope``, and how many match in all.

    A page of Groups costs three statements whatever its size: the page's households with the count of
    all matches (a window count, so the matches are found once), and their members and enrolments; a
    page of Members one. A page past the end asks for the count on its own.
    """
    today = today or datetime.now(UTC).date()
    order = [SORTABLE[name].desc() if descending else SORTABLE[name].asc() for name, descending in criteria.sort]
    if criteria.entity == "Member":
        columns = [*MEMBERS.c, HOUSEHOLDS.c.kk_number.label("group_kk_number")]
        key = MEMBERS.c.id
    else:
        columns = [*HOUSEHOLDS.c, RANKS.c.decile]
        key = HOUSEHOLDS.c.id
    page_query = (
        _filtered(criteria, scope, [*columns, func.count().over().label("total_matches")])
        .order_by(*order, key)
        .limit(criteria.page_size)
        .offset((criteria.page_number - 1) * criteria.page_size)
    )
    rows = [row._mapping for row in await conn.execute(page_query)]
    if rows:
        total = rows[0]["total_matches"]
    else:
        total = (await conn.execute(_filtered(criteria, scope, [func.count()]))).scalar_one()
    if criteria.entity == "Member":
        records = [person_record(row, row["group_kk_number"]) for row in rows]
        return Page(records, criteria.page_size, criteria.page_number, total)
    if not rows:
        return Page([], criteria.page_size, criteria.page_number, total)
    household_ids = [row["id"] for row in rows]
    members_of: dict[int, list[Any]] = defaultdict(list)
    member_rows = await conn.execute(
        select(MEMBERS)
        .where(MEMBERS.c.household_id.in_(household_ids), MEMBERS.c.status == MemberStatus.ACTIVE.value)
        .order_by(MEMBERS.c.household_id, MEMBERS.c.id)
    )
    for member in member_rows:
        members_of[member.household_id].append(member._mapping)
    enrolments_of: dict[int, list[Any]] = defaultdict(list)
    enrolment_rows = await conn.execute(
        select(ENROLMENTS)
        .where(ENROLMENTS.c.household_id.in_(household_ids))
        .order_by(ENROLMENTS.c.household_id, ENROLMENTS.c.period_start, ENROLMENTS.c.program)
    )
    for enrolment in enrolment_rows:
        enrolments_of[enrolment.household_id].append(enrolment._mapping)
    records = [group_record(row, row["decile"], members_of[row["id"]], enrolments_of[row["id"]], today) for row in rows]
    return Page(records, criteria.page_size, criteria.page_number, total)
