"""docs/plugins.md is enough to write a programme: its marked snippets are built into a package,
installed with pip, and its test runs the programme through a SIKS application that allows it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
#: A fenced block whose first line names the file it is: ``# file: siks_disability/__init__.py``.
SNIPPET = re.compile(r"^```(?:python|toml)\n# file: (?P<path>\S+)\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)


def snippets() -> dict[str, str]:
    return {match["path"]: match["body"] for match in SNIPPET.finditer(DOCS)}


def test_the_docs_mark_a_whole_package_and_its_test() -> None:
    assert set(snippets()) == {
        "pyproject.toml",
        "siks_disability/settings.toml",
        "siks_disability/__init__.py",
        "tests/test_disability.py",
    }


def test_a_programme_written_from_the_docs_alone_installs_and_previews(tmp_path: Path) -> None:
    project, site = tmp_path / "siks-disability", tmp_path / "site"
    for path, body in snippets().items():
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        (project / path).write_text(body, encoding="utf-8")
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation"]
    subprocess.run([*pip, "--target", str(site), str(project)], check=True, capture_output=True, timeout=300)
    assert (site / "siks_disability" / "settings.toml").is_file(), "settings.toml was not packaged"
    # The installed package (its entry point included) is seen by the test's own Python only: the test
    # environment itself is left as it was.
    env = {name: value for name, value in os.environ.items() if not name.startswith("SIKS_")}
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(ROOT)])
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_disability.py"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "1 passed" in result.stdout
