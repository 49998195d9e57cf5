"""docs/dci.md's curl and Python requests run as written against a served SIKS and find what they say."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.auth.users import create_api_key, create_user
from core.foundation.settings import Settings
from core.storage.db import write_transaction
from core.storage.records import REGIONS
from tests import factories
from tests.programs_support import rank, register
from tests.serving import uvicorn_server

DOC = (Path(__file__).resolve().parent.parent / "docs" / "dci.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```(\w+)\n(.*?)```", DOC, re.S)
PYTHON = next(code for language, code in BLOCKS if language == "python")
CURL = next(code for language, code in BLOCKS if language == "sh" and "/registry/sync/search" in code)


async def test_the_documented_requests_run(db: AsyncEngine, settings: Settings) -> None:
    async with db.connect() as conn:
        village = (
            await conn.execute(
                select(REGIONS.c.code).where(REGIONS.c.code.like("35.13.%"), REGIONS.c.level == 4).limit(1)
            )
        ).scalar_one()
    poor, better = factories.household(village), factories.household(village)
    poor_id, better_id = await register(db, [poor, better])
    await rank(db, {poor_id: (1, 0.1), better_id: (5, 0.5)})
    async with write_transaction(db) as conn:
        await create_user(conn, "dinsos-jatim", "a-long-password-for-jatim", "integrator", "35")
        key, _prefix = await create_api_key(conn, "dinsos-jatim", "docs")
    with uvicorn_server(settings) as url:
        environment = {**os.environ, "SIKS_URL": url, "SIKS_KEY": key, "NIK": poor.members[1].nik}
        python = subprocess.run(
            [sys.executable, "-c", PYTHON], env=environment, capture_output=True, text=True, timeout=60
        )
        assert python.returncode == 0, python.stderr
        lines = python.stdout.splitlines()
        assert lines[0].startswith("succ") and "'total_count': 1" in lines[0]
        assert lines[1].split() == [poor.kk_number, "1", "3"]
        curl = subprocess.run(
            ["bash", "-c", CURL.replace("http://127.0.0.1:8000", url)],
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert curl.returncode == 0, curl.stderr
    [answer] = json.loads(curl.stdout)["message"]["search_response"]
    assert answer["status"] == "succ"
    assert answer["data"]["reg_records"][0]["group_identifier"][0]["identifier_value"] == poor.kk_number
