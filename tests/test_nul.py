"""A NUL character anywhere in a request is refused with 400 before it can reach PostgreSQL."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine


async def test_nul_characters_are_refused(
    db: AsyncEngine, client: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    query = "query($niks: [String!]!) { eligibilityBatch(niks: $niks) { found } }"
    for path in ("/graphql", "/public/graphql"):
        response = await client.post(
            path,
            json={"query": query, "variables": {"niks": ["32\u0000"]}},
            headers={**auth_headers, "Accept-Language": "en"},
        )
        assert response.status_code == 400 and "NUL character" in response.text
    # the public endpoint answers in Indonesian unless asked otherwise (docs/api-contract.md, "Languages")
    public = await client.post("/public/graphql", json={"query": query, "variables": {"niks": ["32\u0000"]}})
    assert public.status_code == 400 and "karakter NUL" in public.text
    assert public.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    ok = await client.post("/graphql", json={"query": query, "variables": {"niks": ["3201"]}}, headers=auth_headers)
    assert ok.status_code == 200 and ok.json()["data"] == {"eligibilityBatch": [{"found": False}]}
