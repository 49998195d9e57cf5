"""Each application builds its own plugin registry from its settings: two applications with different
plugins serve side by side in one process, and importing core loads no plugin."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from core.foundation.settings import Settings
from core.http.app import create_app
from tests.conftest import GraphQLClient, token_headers

INSTALLED = "{ programs { installed { slug } } }"
KUBE_GROUPS = '{ programs { kubeGroups(villageCode: "32.01.01.2001") { id } } }'
PREVIEW = """query($program: String!) { programCyclePreview(program: $program, period: "2026", regionCode: "32") {
  __typename ... on CyclePreview { program total { eligible } } ... on ValidationError { fields { message } } } }"""


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[GraphQLClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://siks.test") as http:
            yield GraphQLClient(http, token_headers(settings, "data_centre"))


async def test_two_apps_with_different_plugins_serve_in_one_process(db: AsyncEngine, settings: Settings) -> None:
    cash_only = settings.model_copy(update={"plugins": "pkh,bst,bpnt"})
    with_kube = settings.model_copy(update={"plugins": "kube,elderly"})
    async with serving(cash_only) as cash, serving(with_kube) as kube:
        slugs = [p["slug"] for p in (await cash(INSTALLED))["programs"]["installed"]]
        assert slugs == ["bpnt", "bst", "pkh"]
        slugs = [p["slug"] for p in (await kube(INSTALLED))["programs"]["installed"]]
        assert slugs == ["aslut", "kube"]

        assert await kube(KUBE_GROUPS) == {"programs": {"kubeGroups": []}}
        refused = await cash.raw(KUBE_GROUPS)
        assert "Cannot query field 'kubeGroups' on type 'Programs'" in refused["errors"][0]["message"]
        refused = await cash.raw('mutation { dissolveKubeGroup(groupId: "1", version: 1, reason: "x") { __typename } }')
        assert "Cannot query field 'dissolveKubeGroup'" in refused["errors"][0]["message"]

        previewed = (await kube(PREVIEW, {"program": "kube"}))["programCyclePreview"]
        assert previewed == {"__typename": "CyclePreview", "program": "kube", "total": {"eligible": 0}}
        unknown = (await cash(PREVIEW, {"program": "kube"}))["programCyclePreview"]
        assert unknown["__typename"] == "ValidationError"
        assert "unknown program 'kube'; installed programs: bpnt, bst, pkh" in unknown["fields"][0]["message"]


def test_importing_core_loads_no_plugin() -> None:
    """The registry is built by an application or a command, never as a side effect of an import."""
    code = (
        "import sys, core.http.app, core.schema.build, core.access.enforcer, core.storage.migrate\n"
        "loaded = [m for m in ('plugins.pkh', 'plugins.kube', 'siks_elderly') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
