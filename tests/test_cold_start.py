"""A fast cold start (issue 17 item 4): serving imports none of the heavy numeric libraries.

pandas, scipy, numpy, pyarrow and catboost take seconds to import together; the server imports them
when a request first needs them (ranking, training, identity runs), not at start. The time itself is
measured by ``bench/cold_start.py``, never by a timed test; this test fails when an import at module
level brings one of them back into the start.
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("pandas.core", "scipy.stats", "numpy.linalg", "pyarrow.lib", "catboost", "recordlinkage", "sklearn")

PROBE = """
import json, sys
from core.http.app import create_app
import core.cli  # the `siks` command, as `siks serve` imports it
from core.foundation.settings import Settings
create_app(Settings(database_url="sqlite+aiosqlite:///:memory:"))
print(json.dumps(sorted(name for name in sys.modules if name.startswith(tuple(json.loads(sys.argv[1]))))))
"""


def test_serving_imports_no_heavy_library() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(HEAVY)], capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_a_lazily_imported_library_works_when_first_used() -> None:
    """The welfare modules' numpy and pandas load on first use (the ranking's features)."""
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from core.welfare.features import NUMERIC, empty_frame; frame = empty_frame(); "
            "print(type(frame.to_pandas()).__module__, frame.numeric.shape[1] == len(NUMERIC))",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert result.stdout.split() == ["pandas.core.frame", "True"]
