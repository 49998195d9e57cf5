"""The hooks a SIKS plugin may implement (pluggy project ``siks``).

Every hook is called with keyword arguments only and its results are combined in an order
that does not depend on the order plugins were registered in. ``register_*`` hooks return
declarative objects, ``extra_*`` hooks add to something core owns, and event hooks (``siks_cycle_*``)
say what has happened: they run after the change committed and can never undo or fail it
(``core.programs.events``).
See docs/plugins.md for each hook with an example.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from core.programs.periods import Period
    from core.programs.schema_fields import SchemaField
    from core.programs.types import HouseholdFact, Program

PROJECT = "siks"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def siks_register_programs() -> list[Program]:
    """Return the aid programs this plugin provides.

    Called once at start-up. Each ``Program`` carries its identity (slug, name, description),
    period kind, eligibility rules, benefit rule, payment channel, settings per year and the
    programs it excludes. Two programs with one slug stop start-up with a message naming both
    plugins.
    """


@hookspec
def siks_register_facts() -> list[HouseholdFact]:
    """Return per-household facts (counts of active members meeting a condition) rules may read.

    Called once at start-up. Each fact becomes a column of the household-facts row; a name
    claimed twice stops start-up with a message naming both plugins.
    """


@hookspec
def siks_register_migrations() -> list[str]:
    """Return folders of Alembic migration scripts for this plugin's own tables.

    Called whenever the migration environment is built. Each plugin's scripts form their own
    Alembic branch (``branch_labels = ("<plugin>",)``, ``depends_on`` a core revision);
    ``siks db upgrade`` applies every branch.
    """


@hookspec
def siks_extra_household_fields() -> list[SchemaField]:
    """Return GraphQL fields to mount under ``Household.programs``.

    Called once when the schema is assembled. Each ``SchemaField`` resolver receives the
    household record as ``self``. A field name claimed twice stops start-up naming both plugins.
    """


@hookspec
def siks_extra_query_fields() -> list[SchemaField]:
    """Return GraphQL fields to mount under ``Query.programs``.

    Called once when the schema is assembled; same collision rule as household fields.
    """


@hookspec
def siks_extra_mutation_fields() -> list[SchemaField]:
    """Return GraphQL mutation fields to add to ``Mutation``.

    Called once when the schema is assembled; a name that core or another plugin already
    uses stops start-up naming both.
    """


@hookspec
def siks_extra_policies() -> list[str]:
    """Return Casbin policy lines (``p, role, object, action`` / ``g, ...``) for this plugin's roles.

    Called when the access-control enforcer is built; lines are added to the base policy in
    ``policies/``.
    """


@hookspec
def siks_register_commands() -> list[Any]:
    """Return command groups (``typer.Typer`` apps, each with a ``name``) to add to the ``siks`` command line.

    Called when the command line looks for a command core does not have. Each app becomes
    ``siks <name> ...``; a name that core or another plugin already uses stops the command line
    naming both. Commands run as the operating-system user on the database host (``cli_request()``
    is that user, for the audit log).
    """


@hookspec
def siks_cycle_run(program: Program, period: Period, region_code: str, enrolled: int, cycle_id: int) -> None:
    """Called after a program cycle's run has committed its enrollments (a refused run calls nothing).

    May be a coroutine function (awaited, at most 30 s). Runs outside any transaction: an exception
    or a time-out is logged and written to the audit log (outcome ``error``), and never undoes or
    fails the run; the other plugins are still called.

    :param program: the program whose cycle ran.
    :param period: the period of the cycle.
    :param region_code: the region the cycle covered.
    :param enrolled: how many households the cycle enrolled.
    :param cycle_id: the cycle's id (``programCycle`` in GraphQL).
    """


@hookspec
def siks_cycle_approved(program: Program, period: Period, region_code: str, cycle_id: int, approved_by: str) -> None:
    """Called after a cycle's approval has committed and its payments are released, for the plugins of
    the application that approved it (when the cycle's program is loaded there).

    The moment to hand the released payments to a payment channel. Same rules as ``siks_cycle_run``:
    may be a coroutine function, runs after the commit, and a failure is logged and audited without
    undoing or failing the approval.

    :param program: the program whose cycle was approved.
    :param period: the period of the cycle.
    :param region_code: the region the cycle covers.
    :param cycle_id: the approved cycle's id.
    :param approved_by: the user who approved it.
    """
