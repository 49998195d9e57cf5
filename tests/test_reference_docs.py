"""The example extracts of docs/reference-data.md load as documented, on both databases."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from core.reference.formats import Source, header
from tests.bulk_files import read_report
from tests.cli_support import siks

DOC = (Path(__file__).resolve().parent.parent / "docs" / "reference-data.md").read_text(encoding="utf-8")
EXAMPLES = dict(re.findall(r"```csv (\w+)\n(.*?)```", DOC, re.DOTALL))


async def test_every_source_has_an_example_with_its_documented_columns(db: AsyncEngine) -> None:
    assert set(EXAMPLES) == {source.value for source in Source}
    for source in Source:
        assert tuple(EXAMPLES[source.value].splitlines()[0].split(",")) == header(source)
        for column in header(source):
            assert f"| `{column}` |" in DOC, column


async def test_the_examples_load_with_no_row_rejected(db: AsyncEngine, tmp_path: Path) -> None:
    for source in Source:
        path = tmp_path / f"{source.value}.csv"
        path.write_text(EXAMPLES[source.value], encoding="utf-8")
        rows = len(EXAMPLES[source.value].splitlines()) - 1
        ran = siks("reference", "load", source.value, str(path))
        assert ran.returncode == 0, ran.stderr
        assert f"loaded {rows:,} rows, rejected 0" in ran.stdout, ran.stdout
        assert read_report(tmp_path / f"{source.value}.errors.csv") == []
