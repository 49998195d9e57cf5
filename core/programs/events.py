"""Telling plugins what happened, once it has committed.

Event hooks (``siks_cycle_run``, ``siks_cycle_approved``) run after the transaction of the change
they report has committed, one plugin at a time in plugin-name order. An implementation may be a
plain function or a coroutine function (awaited, for at most ``HOOK_SECONDS``). Whatever a plugin
does — raise, time out — the committed change stands and its caller gets its answer: the failure is
logged on the ``siks.plugins`` logger and written to the audit log (operation = the hook, entity
``plugin``, entity id = the plugin's name, outcome ``error``), and the next plugin is still told.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from core.audit.log import RequestInfo, record
from core.auth.principal import Principal
from core.programs.registry import ProgramRegistry
from core.storage.db import write_transaction

#: How long one plugin's coroutine may take before it counts as failed.
HOOK_SECONDS = 30.0
logger = logging.getLogger("siks.plugins")
#: Who the audit row of a failure names when no request caused the change (the command line).
LOCAL = RequestInfo(Principal(username="siks", role="system", scope="", via="cli"))


@dataclass(frozen=True, slots=True)
class HookFailure:
    """One plugin's implementation of an event hook that raised or ran too long."""

    plugin: str
    hook: str
    error: str


async def _call(function: Any, arguments: dict[str, Any]) -> None:
    result = function(**arguments)
    if inspect.isawaitable(result):
        await asyncio.wait_for(result, HOOK_SECONDS)


async def notify(
    registry: ProgramRegistry,
    hook: str,
    *,
    engine: AsyncEngine | None = None,
    request_info: RequestInfo | None = None,
    **arguments: Any,
) -> list[HookFailure]:
    """Call every loaded plugin's ``hook`` with ``arguments``; returns the failures, already logged and,
    with ``engine``, audited. Never raises for a plugin's fault."""
    manager = registry.manager
    if manager is None:
        return []
    implementations = getattr(manager.hook, hook).get_hookimpls()
    failures = []
    for implementation in sorted(implementations, key=lambda impl: manager.get_name(impl.plugin) or ""):
        plugin = manager.get_name(implementation.plugin) or repr(implementation.plugin)
        wanted = {name: arguments[name] for name in implementation.argnames}  # pluggy passes what it names
        try:
            await _call(implementation.function, wanted)
        except Exception as exc:  # a plugin's fault: the change it reports has committed and stands
            error = f"ran longer than {HOOK_SECONDS:.0f} s" if isinstance(exc, TimeoutError) else repr(exc)
            logger.exception("plugin %s failed in %s after the change committed: %s", plugin, hook, error)
            failures.append(HookFailure(plugin, hook, error[:300]))
    if failures and engine is not None:
        await _audit(engine, request_info or LOCAL, failures)
    return failures


async def _audit(engine: AsyncEngine, request_info: RequestInfo, failures: list[HookFailure]) -> None:
    try:
        async with write_transaction(engine) as conn:
            for failure in failures:
                await record(
                    conn,
                    request_info,
                    operation=failure.hook,
                    entity="plugin",
                    entity_id=failure.plugin,
                    outcome="error",
                    after={"error": failure.error},
                )
    except Exception:  # the log line above already says it; the committed change still stands
        logger.exception("could not audit the failures of %s", ", ".join(f.plugin for f in failures))
