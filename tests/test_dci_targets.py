"""Where SIKS may post a DCI callback (core/dci/targets.py): loopback, private and link-local hosts are
refused where private callbacks are not allowed (production's default), unless the host is listed."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.dci.envelope import DciRefusal
from core.dci.targets import check_callback_target
from core.foundation.settings import Mode, Settings
from core.http.app import create_app
from core.models import DciSubscription, DciTransaction
from tests.dci_support import by_id, envelope, search_body
from tests.test_dci_routes import integrator

CLOSED = {"dci_callback_private_allowed": False}


@pytest.mark.parametrize(
    "uri",
    [
        "http://127.0.0.1:8080/registry/on-search",
        "http://localhost/on-search",
        "http://10.1.2.3/on-search",
        "http://192.168.0.9:3000/x",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:9/x",
    ],
)
async def test_private_and_local_callback_hosts_are_refused_where_not_allowed(settings: Settings, uri: str) -> None:
    with pytest.raises(DciRefusal) as refused:
        await check_callback_target(uri, settings.model_copy(update=CLOSED))
    assert refused.value.code == "err.sender_uri.invalid" and "public" in refused.value.message


async def test_a_public_address_a_listed_host_and_development_mode_are_allowed(settings: Settings) -> None:
    closed = settings.model_copy(update=CLOSED)
    await check_callback_target("https://93.184.216.34/registry/on-search", closed)
    await check_callback_target("http://127.0.0.1:9/x", closed.model_copy(update={"dci_callback_hosts": "127.0.0.1"}))
    development = settings.model_copy(update={"mode": Mode.DEVELOPMENT, "dci_callback_private_allowed": None})
    await check_callback_target("http://127.0.0.1:9/x", development)
    production = settings.model_copy(update={"mode": Mode.PRODUCTION, "dci_callback_private_allowed": None})
    assert not production.dci_private_callbacks_allowed()


async def test_an_async_search_or_subscription_to_a_private_host_is_refused_and_nothing_is_stored(
    db: AsyncEngine, settings: Settings
) -> None:
    closed = settings.model_copy(update=CLOSED)
    app = create_app(closed)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        search = search_body(by_id("NIK", "3201010101010001"), sender_uri="http://127.0.0.1:5432/on-search")
        searched = await http.post("/registry/search", json=search, headers=integrator(closed))
        subscribe = envelope(
            "subscribe",
            {
                "transaction_id": "t-private-1",
                "subscribe_request": [
                    {
                        "reference_id": "r1",
                        "timestamp": "2026-12-07T10:00:00Z",
                        "subscribe_criteria": {
                            "reg_type": "ns:org:RegistryType:Social",
                            "reg_event_type": "REGISTER",
                            "frequency": {"start_time": "2026-12-07T10:00:00Z"},
                        },
                    }
                ],
            },
            "http://10.0.0.5/registry/on-subscribe",
        )
        subscribed = await http.post("/registry/subscribe", json=subscribe, headers=integrator(closed))
    for answer in (searched, subscribed):
        assert answer.status_code == 400, answer.text
        assert answer.json()["message"]["error"]["code"] == "err.sender_uri.invalid"
    async with db.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(DciTransaction.__table__)) == 0
        assert await conn.scalar(select(func.count()).select_from(DciSubscription.__table__)) == 0
