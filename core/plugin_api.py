"""The plugin API: everything a SIKS plugin may use from core, in one module.

Plugins — the built-in programs under ``plugins/`` and any third-party package registered under the
entry-point group ``siks.programs`` — import from here and from nowhere else in core. An
import-linter contract (``[tool.importlinter]`` in pyproject.toml, run by ``.ci/run``) keeps the
built-in plugins and the test fixture plugin to that, and mypy checks this module strictly. What is
here stays; anything else in core may change without notice. docs/plugins.md says what each name is
for, with a complete example.

Names are imported on first use (PEP 562), so a plugin that only declares a program does not load
the GraphQL layer: ``from core.plugin_api import Program`` costs what ``core.programs.types`` costs.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names as mypy and editors see them (``X as X``: exported)
    from core.audit.log import record as _record
    from core.cli.common import fail as _fail
    from core.cli.common import run_with_engine as run_with_engine
    from core.cli.users import cli_request as cli_request
    from core.foundation.enums import MemberStatus as MemberStatus
    from core.foundation.enums import RecordStatus as RecordStatus
    from core.foundation.ids import ids as _ids
    from core.foundation.refusals import Conflict as Conflict
    from core.foundation.refusals import FieldError as FieldError
    from core.foundation.refusals import Invalid as Invalid
    from core.foundation.refusals import Missing as Missing
    from core.foundation.spreadsheet import writer as _writer
    from core.foundation.text import line_problem as line_problem
    from core.foundation.text import text_problem as text_problem
    from core.foundation.wording import add_api_catalog as add_api_catalog
    from core.households.queries import Include as Include
    from core.households.queries import household_by_id as household_by_id
    from core.households.queries import households_by_id as households_by_id
    from core.models.types import code_type as code_type
    from core.programs.config import ProgramSettingsError as ProgramSettingsError
    from core.programs.config import load_program_settings as load_program_settings
    from core.programs.core_facts import CORE_FACTS as CORE_FACTS
    from core.programs.cycles import CycleRecord as CycleRecord
    from core.programs.cycles import cycle_by_id as cycle_by_id
    from core.programs.hookspecs import hookimpl as hookimpl
    from core.programs.periods import Period as Period
    from core.programs.periods import PeriodError as PeriodError
    from core.programs.periods import PeriodKind as PeriodKind
    from core.programs.periods import current_period as current_period
    from core.programs.periods import parse_period as parse_period
    from core.programs.queries import EnrolledMember as EnrolledMember
    from core.programs.queries import enrolled_members as enrolled_members
    from core.programs.rules import FAMILY_COMPONENT as FAMILY_COMPONENT
    from core.programs.rules import DecileAtMost as DecileAtMost
    from core.programs.rules import FamilyAmount as FamilyAmount
    from core.programs.rules import period_share as period_share
    from core.programs.schema_fields import SchemaField as SchemaField
    from core.programs.types import BenefitContext as BenefitContext
    from core.programs.types import BenefitRule as BenefitRule
    from core.programs.types import DisbursementField as DisbursementField
    from core.programs.types import EligibilityRule as EligibilityRule
    from core.programs.types import FactContext as FactContext
    from core.programs.types import HouseholdFact as HouseholdFact
    from core.programs.types import Program as Program
    from core.programs.types import RuleContext as RuleContext
    from core.reference.queries import BpjsMembershipRow as BpjsMembershipRow
    from core.reference.queries import bpjs_members_in as bpjs_members_in
    from core.reference.queries import bpjs_memberships as bpjs_memberships
    from core.regions.codes import is_region_code as is_region_code
    from core.regions.codes import level_number as level_number
    from core.regions.codes import region_within as region_within
    from core.regions.codes import within as within
    from core.regions.queries import existing_codes as existing_codes
    from core.schema.access import Forbidden as Forbidden
    from core.schema.access import allowed as allowed
    from core.schema.access import require as require
    from core.schema.arguments import checked_code as checked_code
    from core.schema.arguments import parse_id as parse_id
    from core.schema.authorization import field_reads as field_reads
    from core.schema.authorization import guarded as guarded
    from core.schema.authorization import namespace as namespace
    from core.schema.authorization import unguarded as unguarded
    from core.schema.context import Context as Context
    from core.schema.enums import enum_twin as enum_twin
    from core.schema.errors import NotFound as NotFound
    from core.schema.errors import ValidationError as ValidationError
    from core.schema.errors import VersionConflict as VersionConflict
    from core.schema.global_ids import global_id as global_id
    from core.schema.global_ids import global_ids as global_ids
    from core.schema.list_sizes import Items as Items
    from core.schema.list_sizes import sized as sized
    from core.schema.node import Node as Node
    from core.schema.node import by_row_id as by_row_id
    from core.schema.node import fetched_by as fetched_by
    from core.schema.writes import run_write as run_write
    from core.storage.db import write_transaction as write_transaction

    next_id = _ids.next_id
    record_audit = _record
    exit_with_error = _fail
    csv_writer = _writer

#: name → (module, attribute path) of every name this module exports.
_EXPORTS: dict[str, tuple[str, str]] = {
    # hooks
    "hookimpl": ("core.programs.hookspecs", "hookimpl"),
    # what a program declares
    "Program": ("core.programs.types", "Program"),
    "EligibilityRule": ("core.programs.types", "EligibilityRule"),
    "BenefitRule": ("core.programs.types", "BenefitRule"),
    "RuleContext": ("core.programs.types", "RuleContext"),
    "BenefitContext": ("core.programs.types", "BenefitContext"),
    "FactContext": ("core.programs.types", "FactContext"),
    "HouseholdFact": ("core.programs.types", "HouseholdFact"),
    "DisbursementField": ("core.programs.types", "DisbursementField"),
    "CORE_FACTS": ("core.programs.core_facts", "CORE_FACTS"),
    # periods
    "Period": ("core.programs.periods", "Period"),
    "PeriodKind": ("core.programs.periods", "PeriodKind"),
    "PeriodError": ("core.programs.periods", "PeriodError"),
    "parse_period": ("core.programs.periods", "parse_period"),
    "current_period": ("core.programs.periods", "current_period"),
    # rules core shares
    "DecileAtMost": ("core.programs.rules", "DecileAtMost"),
    "FamilyAmount": ("core.programs.rules", "FamilyAmount"),
    "FAMILY_COMPONENT": ("core.programs.rules", "FAMILY_COMPONENT"),
    "period_share": ("core.programs.rules", "period_share"),
    # settings per year from the package's settings.toml
    "load_program_settings": ("core.programs.config", "load_program_settings"),
    "ProgramSettingsError": ("core.programs.config", "ProgramSettingsError"),
    # refusals a service returns instead of a record
    "Invalid": ("core.foundation.refusals", "Invalid"),
    "Conflict": ("core.foundation.refusals", "Conflict"),
    "Missing": ("core.foundation.refusals", "Missing"),
    "FieldError": ("core.foundation.refusals", "FieldError"),
    # the Indonesian of the plugin's messages: <dir>/id/LC_MESSAGES/api.po (core.foundation.wording)
    "add_api_catalog": ("core.foundation.wording", "add_api_catalog"),
    # regions
    "region_within": ("core.regions.codes", "region_within"),
    "within": ("core.regions.codes", "within"),
    "is_region_code": ("core.regions.codes", "is_region_code"),
    "level_number": ("core.regions.codes", "level_number"),
    "existing_codes": ("core.regions.queries", "existing_codes"),
    # text a user sends: refused characters (controls, line breaks in a line, direction overrides)
    "line_problem": ("core.foundation.text", "line_problem"),
    "text_problem": ("core.foundation.text", "text_problem"),
    # tables and records
    "write_transaction": ("core.storage.db", "write_transaction"),
    "next_id": ("core.foundation.ids", "ids.next_id"),
    "code_type": ("core.models.types", "code_type"),
    "MemberStatus": ("core.foundation.enums", "MemberStatus"),
    "RecordStatus": ("core.foundation.enums", "RecordStatus"),
    "Include": ("core.households.queries", "Include"),
    "household_by_id": ("core.households.queries", "household_by_id"),
    "households_by_id": ("core.households.queries", "households_by_id"),
    # a cycle and the members it counted (for a payer's registration file)
    "CycleRecord": ("core.programs.cycles", "CycleRecord"),
    "cycle_by_id": ("core.programs.cycles", "cycle_by_id"),
    "EnrolledMember": ("core.programs.queries", "EnrolledMember"),
    "enrolled_members": ("core.programs.queries", "enrolled_members"),
    # reference data: BPJS memberships of the active (or a named) snapshot, only what reconciliation needs
    "BpjsMembershipRow": ("core.reference.queries", "BpjsMembershipRow"),
    "bpjs_memberships": ("core.reference.queries", "bpjs_memberships"),
    "bpjs_members_in": ("core.reference.queries", "bpjs_members_in"),
    # the command line (siks_register_commands) and its audit
    "run_with_engine": ("core.cli.common", "run_with_engine"),
    "exit_with_error": ("core.cli.common", "fail"),
    "cli_request": ("core.cli.users", "cli_request"),
    "record_audit": ("core.audit.log", "record"),
    "csv_writer": ("core.foundation.spreadsheet", "writer"),
    # GraphQL
    "SchemaField": ("core.programs.schema_fields", "SchemaField"),
    "Context": ("core.schema.context", "Context"),
    "require": ("core.schema.access", "require"),
    "allowed": ("core.schema.access", "allowed"),
    "Forbidden": ("core.schema.access", "Forbidden"),
    "parse_id": ("core.schema.arguments", "parse_id"),
    "checked_code": ("core.schema.arguments", "checked_code"),
    "ValidationError": ("core.schema.errors", "ValidationError"),
    # Relay: the Node interface, global ids, and how node(id) fetches a plugin's type
    "Node": ("core.schema.node", "Node"),
    "fetched_by": ("core.schema.node", "fetched_by"),
    "by_row_id": ("core.schema.node", "by_row_id"),
    "enum_twin": ("core.schema.enums", "enum_twin"),
    "global_id": ("core.schema.global_ids", "global_id"),
    "global_ids": ("core.schema.global_ids", "global_ids"),
    "VersionConflict": ("core.schema.errors", "VersionConflict"),
    "NotFound": ("core.schema.errors", "NotFound"),
    "run_write": ("core.schema.writes", "run_write"),
    # who may read a GraphQL type (every object type declares one; core.schema.authorization)
    "guarded": ("core.schema.authorization", "guarded"),
    "unguarded": ("core.schema.authorization", "unguarded"),
    "namespace": ("core.schema.authorization", "namespace"),
    "field_reads": ("core.schema.authorization", "field_reads"),
    # how many items a list field without `first` answers at most (the query cost; core.schema.list_sizes)
    "Items": ("core.schema.list_sizes", "Items"),
    "sized": ("core.schema.list_sizes", "sized"),
}

__all__ = sorted(_EXPORTS)

if not TYPE_CHECKING:  # mypy sees the imports above, and flags a name this module does not export

    def __getattr__(name: str) -> Any:
        try:
            module, path = _EXPORTS[name]
        except KeyError:
            raise AttributeError(f"core.plugin_api has no '{name}'; docs/plugins.md lists what it exports") from None
        value: Any = import_module(module)
        for part in path.split("."):
            value = getattr(value, part)
        globals()[name] = value  # later look-ups skip this function
        return value

    def __dir__() -> list[str]:
        return __all__
