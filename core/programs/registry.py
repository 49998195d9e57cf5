"""Finding program plugins (entry-point group ``siks.programs``) and collecting what they register.

A registry belongs to the application that built it (``core.http.app.create_app`` builds one from its
settings' allowlist and hands it down to the schema, the request context and the cycle runs); no
registry is kept in a module global, so two applications with different plugins can share one
process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, TypeVar

import pluggy

from core.programs import core_facts, hookspecs
from core.programs.schema_fields import SchemaField
from core.programs.types import HouseholdFact, Program

if TYPE_CHECKING:
    from core.foundation.settings import Settings

ENTRY_POINT_GROUP = "siks.programs"
#: Built into core and always loaded, registered the same way a plugin is.
DEFAULT_PLUGINS: tuple[tuple[str, Any], ...] = (("core-facts", core_facts),)

T = TypeVar("T")


class PluginConflict(RuntimeError):
    """Two plugins claim the same name; start-up stops."""


@dataclass
class ProgramRegistry:
    """Everything the loaded plugins registered, keyed by name and sorted, so hook order never matters."""

    plugins: list[str]
    programs: dict[str, Program] = field(default_factory=dict)
    facts: dict[str, HouseholdFact] = field(default_factory=dict)
    household_fields: dict[str, SchemaField] = field(default_factory=dict)
    query_fields: dict[str, SchemaField] = field(default_factory=dict)
    mutation_fields: dict[str, SchemaField] = field(default_factory=dict)
    policies: list[str] = field(default_factory=list)
    commands: dict[str, Any] = field(default_factory=dict)
    migrations: list[str] = field(default_factory=list)
    owner: dict[tuple[str, str], str] = field(default_factory=dict)
    manager: pluggy.PluginManager | None = None

    def program(self, slug: str) -> Program:
        try:
            return self.programs[slug]
        except KeyError:
            known = ", ".join(sorted(self.programs)) or "none"
            raise LookupError(f"unknown program '{slug[:30]}'; installed programs: {known}") from None


def make_manager(allowlist: Sequence[str] | None = None) -> pluggy.PluginManager:
    """A plugin manager with the built-ins and the installed plugins the allowlist admits."""
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    for name, module in DEFAULT_PLUGINS:
        manager.register(module, name=name)
    allowed = set(allowlist) if allowlist is not None else None
    for entry_point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name):
        if allowed is None or entry_point.name in allowed:
            manager.register(entry_point.load(), name=entry_point.name)
    if allowed is not None:
        missing = allowed - {entry_point.name for entry_point in entry_points(group=ENTRY_POINT_GROUP)}
        if missing:
            raise PluginConflict(f"SIKS_PLUGINS names plugins that are not installed: {', '.join(sorted(missing))}")
    manager.check_pending()
    return manager


def _results(manager: pluggy.PluginManager, hook_name: str) -> list[tuple[str, Any]]:
    """Each plugin's own result of a hook, paired with the plugin's name, in plugin-name order."""
    hook = getattr(manager.hook, hook_name)
    pairs = []
    for impl in hook.get_hookimpls():
        name = manager.get_name(impl.plugin) or repr(impl.plugin)
        result = impl.function()
        if result:
            pairs.append((name, result))
    return sorted(pairs, key=lambda pair: pair[0])


def _collect(
    manager: pluggy.PluginManager, hook_name: str, kind: str, key: Callable[[T], str], owner: dict[tuple[str, str], str]
) -> dict[str, T]:
    found: dict[str, T] = {}
    for plugin, items in _results(manager, hook_name):
        for item in items:
            name = key(item)
            if (kind, name) in owner:
                raise PluginConflict(
                    f"{kind} '{name}' is registered by both {owner[(kind, name)]} and plugin '{plugin}'"
                )
            found[name] = item
            owner[(kind, name)] = f"plugin '{plugin}'"
    return dict(sorted(found.items()))


def build_registry(
    manager: pluggy.PluginManager, reserved_mutations: Iterable[str] = (), reserved_commands: Iterable[str] = ()
) -> ProgramRegistry:
    """Collect every registration, refusing collisions with a message naming both plugins."""
    owner: dict[tuple[str, str], str] = {("mutation field", name): "core" for name in reserved_mutations}
    owner.update({("command", name): "core" for name in reserved_commands})
    registry = ProgramRegistry(plugins=sorted(n for n, _ in manager.list_name_plugin()), owner=owner, manager=manager)
    registry.programs = _collect(manager, "siks_register_programs", "program", lambda p: p.slug, owner)
    registry.facts = _collect(manager, "siks_register_facts", "fact", lambda f: f.name, owner)
    registry.household_fields = _collect(manager, "siks_extra_household_fields", "household field", _name, owner)
    registry.query_fields = _collect(manager, "siks_extra_query_fields", "query field", _name, owner)
    registry.mutation_fields = _collect(manager, "siks_extra_mutation_fields", "mutation field", _name, owner)
    registry.commands = _collect(manager, "siks_register_commands", "command", _command_name, owner)
    registry.policies = [line for _plugin, lines in _results(manager, "siks_extra_policies") for line in lines]
    registry.migrations = [path for _plugin, paths in _results(manager, "siks_register_migrations") for path in paths]
    for program in registry.programs.values():
        unknown = [slug for slug in program.excludes if slug not in registry.programs]
        if unknown:
            raise PluginConflict(f"program '{program.slug}' excludes programs that are not loaded: {unknown}")
    return registry


def _name(item: SchemaField) -> str:
    return item.name


def _command_name(app: Any) -> str:
    """A plugin's command group is named by its Typer app (``typer.Typer(name=...)``)."""
    name = getattr(getattr(app, "info", None), "name", None)
    if not isinstance(name, str) or not name:
        raise PluginConflict(f"a command group registered by a plugin has no name: {app!r}")
    return name


def registry_from_settings(settings: Settings | None = None) -> ProgramRegistry:
    """A registry of the plugins ``settings.plugins`` allows (all installed when unset).

    The command line builds one per command; the HTTP application builds its own in ``create_app``.
    """
    from core.foundation.settings import get_settings

    return build_registry(make_manager((settings or get_settings()).plugin_allowlist()))


def installed_migrations() -> list[str]:
    """The migration folders of every installed plugin, loaded or not.

    The database's schema is shared by every application on it, whichever plugins each one serves,
    so ``siks db upgrade`` applies (and the server checks) every installed plugin's branch.
    """
    manager = make_manager(None)
    return [path for _plugin, paths in _results(manager, "siks_register_migrations") for path in paths]
