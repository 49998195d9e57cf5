"""Benchmark: one GraphQL page of 1,000 households with their members, against the floor.

The floor is the raw driver (sqlite3 / asyncpg) running the two equivalent SELECTs and
``json.dumps`` of the same data, in the same process. Both sides produce the same JSON (checked).
Prints the median of several runs and the ratio ours / floor; the target is at most 3x.

    python bench/graphql_page.py [--databases sqlite postgresql] [--households 20000] [--runs 9]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import BenchDatabase, fresh_database, interleaved_medians  # noqa: E402
from core.access.enforcer import AccessControl  # noqa: E402
from core.auth import tokens  # noqa: E402
from core.auth.principal import Principal  # noqa: E402
from core.auth.requests import principal_of  # noqa: E402
from core.programs.registry import registry_from_settings  # noqa: E402
from core.schema.build import build_schema  # noqa: E402
from core.schema.context import Context  # noqa: E402
from core.storage.db import create_engine  # noqa: E402

PAGE = 1000
QUERY = """
query Page($first: Int!) {
  households(first: $first) {
    edges { node {
      id kkNumber version villageCode address rt rw floorMaterial wallMaterial roofMaterial floorArea hasMotorcycle
      members { nik name sex birthDate relationship }
    } }
  }
}"""
HOUSEHOLD_SQL = (
    "SELECT id, kk_number, version, village_code, address, rt, rw, floor_material, wall_material, roof_material, "
    "floor_area, has_motorcycle FROM households WHERE status = 'active' ORDER BY id LIMIT {limit}"
)
MEMBER_SQL = (
    "SELECT household_id, nik, name, sex, birth_date, relationship FROM members "
    "WHERE household_id IN ({ids}) AND status = 'active' ORDER BY household_id, id"
)


def shape(households: list[Any], members: list[Any], date_text: bool) -> dict[str, Any]:
    """The same document the GraphQL query answers, from plain rows."""
    by_id: dict[int, list[dict[str, Any]]] = {}
    for m in members:
        by_id.setdefault(m[0], []).append(
            {
                "nik": m[1],
                "name": m[2],
                "sex": m[3].upper(),
                "birthDate": m[4] if date_text else m[4].isoformat(),
                "relationship": m[5].upper(),
            }
        )
    edges = [
        {
            "node": {
                "id": str(h[0]),
                "kkNumber": h[1],
                "version": h[2],
                "villageCode": h[3],
                "address": h[4],
                "rt": h[5],
                "rw": h[6],
                "floorMaterial": h[7].upper(),
                "wallMaterial": h[8].upper(),
                "roofMaterial": h[9].upper(),
                "floorArea": h[10],
                "hasMotorcycle": bool(h[11]),
                "members": by_id.get(h[0], []),
            }
        }
        for h in households
    ]
    return {"data": {"households": {"edges": edges}}}


def sqlite_floor(conn: sqlite3.Connection) -> str:
    households = conn.execute(HOUSEHOLD_SQL.format(limit=PAGE)).fetchall()
    ids = ",".join(str(h[0]) for h in households)
    members = conn.execute(MEMBER_SQL.format(ids=ids)).fetchall()
    return json.dumps(shape(households, members, date_text=True))


async def postgres_floor(conn: asyncpg.Connection) -> str:
    households = await conn.fetch(HOUSEHOLD_SQL.format(limit=PAGE))
    ids = ",".join(str(h[0]) for h in households)
    members = await conn.fetch(MEMBER_SQL.format(ids=ids))
    return json.dumps(shape(households, members, date_text=False))


SCOPED_QUERY = """
query Page($first: Int!, $region: String) {
  households(first: $first, regionCode: $region) {
    edges { node {
      id kkNumber version villageCode address rt rw floorMaterial wallMaterial roofMaterial floorArea hasMotorcycle
      members { nik name sex birthDate relationship }
    } }
  }
}"""


async def busiest_province(engine: AsyncEngine) -> str:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT substr(village_code, 1, 2) AS p, count(*) AS n FROM households GROUP BY p ORDER BY n DESC")
        )
        return str(rows.first()[0])


async def measure(database: BenchDatabase, runs: int) -> tuple[float, float, float, float]:
    """(floor, ours, page asked by regionCode with no scope, same page through token + Casbin + scope)."""
    settings = database.settings
    engine = create_engine(settings)
    registry = registry_from_settings(settings)
    schema = build_schema(settings, registry=registry)
    access = AccessControl(engine)
    await access.refresh(force=True)
    national = Principal(username="bench", role="data_centre", scope="")

    async def ours() -> bytes:
        context = Context.create(engine, settings, access, national, registry=registry)
        result = await schema.execute(QUERY, variable_values={"first": PAGE}, context_value=context)
        assert result.errors is None, result.errors
        return orjson.dumps({"data": result.data})

    province = await busiest_province(engine)
    token, _claims = tokens.issue(
        settings, user_id=1, username="bench", role="province_office", scope=province, kind="access"
    )
    headers = {"authorization": f"Bearer {token}"}

    async def unscoped() -> bytes:
        context = Context.create(engine, settings, access, national, registry=registry)
        result = await schema.execute(
            SCOPED_QUERY, variable_values={"first": PAGE, "region": province}, context_value=context
        )
        assert result.errors is None, result.errors
        return orjson.dumps({"data": result.data})

    async def scoped() -> bytes:
        principal = await principal_of(headers, engine, settings)  # verifies the token, as every request does
        await access.refresh()
        context = Context.create(engine, settings, access, principal, registry=registry)
        result = await schema.execute(SCOPED_QUERY, variable_values={"first": PAGE}, context_value=context)
        assert result.errors is None, result.errors
        return orjson.dumps({"data": result.data})

    assert json.loads(await scoped()) == json.loads(await unscoped()), "scope and regionCode answer different pages"

    # The floor keeps one open connection, as the engine's pool does for our side.
    if database.label == "sqlite":
        lite = sqlite3.connect(settings.database_url.split("///", 1)[1])

        async def floor() -> str:
            return sqlite_floor(lite)
    else:
        pg = await asyncpg.connect(
            settings.database_url.replace("postgresql+asyncpg", "postgresql"),
            server_settings={"search_path": settings.database_schema or "public"},
        )

        async def floor() -> str:
            return await postgres_floor(pg)

    assert json.loads(await ours()) == json.loads(await floor()), "the two sides answer different documents"
    for _ in range(2):  # warm caches on both sides
        await ours()
        await floor()
    medians = await interleaved_medians(runs, {"floor": floor, "ours": ours, "unscoped": unscoped, "scoped": scoped})
    floor_time, ours_time = medians["floor"], medians["ours"]
    unscoped_time, scoped_time = medians["unscoped"], medians["scoped"]
    if database.label == "sqlite":
        lite.close()
    else:
        await pg.close()
    await engine.dispose()
    return floor_time, ours_time, unscoped_time, scoped_time


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    parser.add_argument("--households", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    for kind in args.databases:
        database = await fresh_database(kind, args.households)
        try:
            floor_time, ours_time, unscoped_time, scoped_time = await measure(database, args.runs)
        finally:
            await database.cleanup()
        print(
            f"{kind:10s} page of {PAGE} households: floor (raw driver + json.dumps) {floor_time * 1000:7.1f} ms, "
            f"SIKS GraphQL {ours_time * 1000:7.1f} ms, ratio {ours_time / floor_time:4.2f}x (target <= 3x), "
            f"median of {args.runs}, load average {os.getloadavg()[0]:.2f}"
        )
        print(
            f"{kind:10s} province page: regionCode, no scope {unscoped_time * 1000:7.1f} ms; token + Casbin + scope "
            f"{scoped_time * 1000:7.1f} ms, ratio {scoped_time / unscoped_time:4.2f}x (target <= 1.2x)"
        )


if __name__ == "__main__":
    asyncio.run(main())
