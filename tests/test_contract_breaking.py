"""``siks schema breaking`` and the CI step: a breaking change fails unless intended and announced long enough."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.cli import app
from core.contract.breaking import ContractFileError, IntendedChanges, compare, parse_intended

REPOSITORY = Path(__file__).resolve().parent.parent
CONTRACT = REPOSITORY / "contract" / "schema.graphql"
TODAY = date(2026, 6, 1)
BASE = """
type Query {
  household(id: ID!): Household
  households(
    regionCode: String = null, kkNumber: String @deprecated(reason: "use household"), first: Int! = 50
  ): [Household!]!
}

type Household {
  id: ID!
  address: String!
  oldAddress: String @deprecated(reason: "use address")
  floor: Floor!
}

enum Floor {
  CERAMIC
  EARTH
  BAMBOO @deprecated(reason: "recorded as WOOD")
  WOOD
}
"""


def intended(*changes: tuple[str, str], days: int = 90) -> IntendedChanges:
    entries = "".join(
        f'[[change]]\nschema = "main"\nchange = "{change}"\nreason = "test"\ndeprecated_on = {day}\n'
        for change, day in changes
    )
    return parse_intended(f"minimum_deprecation_days = {days}\n{entries}", "intended-changes.toml")


def problems(current: str, listed: IntendedChanges | None = None) -> dict[str, str | None]:
    comparison = compare("main", BASE, current, listed or IntendedChanges(), TODAY)
    return {finding.change: finding.problem for finding in comparison.breaking}


def test_a_removed_field_not_listed_is_refused() -> None:
    assert problems(BASE.replace("  address: String!\n", "")) == {
        "Field Household.address was removed.": "not listed as intended"
    }


def test_a_listed_field_deprecated_long_enough_ago_passes() -> None:
    current = BASE.replace('  oldAddress: String @deprecated(reason: "use address")\n', "")
    listed = intended(("Field Household.oldAddress was removed.", "2026-01-15"))
    assert problems(current, listed) == {"Field Household.oldAddress was removed.": None}


def test_a_listed_field_deprecated_too_recently_is_refused_with_the_day_it_may_go() -> None:
    current = BASE.replace('  oldAddress: String @deprecated(reason: "use address")\n', "")
    listed = intended(("Field Household.oldAddress was removed.", "2026-04-01"))
    problem = problems(current, listed)["Field Household.oldAddress was removed."]
    assert problem is not None and "deprecated on 2026-04-01" in problem and "from 2026-06-30" in problem
    assert problems(current, intended(("Field Household.oldAddress was removed.", "2026-04-01"), days=30)) == {
        "Field Household.oldAddress was removed.": None
    }


def test_a_listed_removal_of_a_field_that_was_never_deprecated_is_refused() -> None:
    listed = intended(("Field Household.address was removed.", "2025-01-01"))
    problem = problems(BASE.replace("  address: String!\n", ""), listed)["Field Household.address was removed."]
    assert problem is not None and "Household.address was not @deprecated in the base schema" in problem


def test_enum_values_and_arguments_must_be_deprecated_before_removal() -> None:
    current = BASE.replace('  BAMBOO @deprecated(reason: "recorded as WOOD")\n', "").replace("  EARTH\n", "")
    current = current.replace(', kkNumber: String @deprecated(reason: "use household")', "").replace(
        "regionCode: String = null, ", ""
    )
    listed = intended(
        ("Enum value Floor.BAMBOO was removed.", "2025-01-01"),
        ("Enum value Floor.EARTH was removed.", "2025-01-01"),
        ("Argument Query.households(kkNumber:) was removed.", "2025-01-01"),
        ("Argument Query.households(regionCode:) was removed.", "2025-01-01"),
    )
    found = problems(current, listed)
    assert found["Enum value Floor.BAMBOO was removed."] is None
    assert found["Argument Query.households(kkNumber:) was removed."] is None
    assert "Floor.EARTH was not @deprecated" in str(found["Enum value Floor.EARTH was removed."])
    assert "Query.households(regionCode:) was not @deprecated" in str(
        found["Argument Query.households(regionCode:) was removed."]
    )


def test_a_change_that_cannot_be_deprecated_passes_once_listed_and_announced() -> None:
    current = BASE.replace("household(id: ID!): Household\n", "household(id: ID!, asOf: String!): Household\n")
    change = "A required argument Query.household(asOf:) was added."
    assert problems(current) == {change: "not listed as intended"}
    assert problems(current, intended((change, "2025-12-01"))) == {change: None}


def test_added_fields_pass_and_an_added_enum_value_is_only_a_warning() -> None:
    current = BASE.replace("  address: String!\n", "  address: String!\n  rt: String\n").replace(
        "  WOOD\n", "  WOOD\n  TILE\n"
    )
    comparison = compare("main", BASE, current, IntendedChanges(), TODAY)
    assert comparison.breaking == () and comparison.refused == []
    assert comparison.dangerous == ("Enum value Floor.TILE was added.",)


def test_an_entry_for_the_other_schema_does_not_count() -> None:
    listed = parse_intended(
        '[[change]]\nschema = "public"\nchange = "Field Household.oldAddress was removed."\n'
        'reason = "r"\ndeprecated_on = 2025-01-01\n',
        "f",
    )
    current = BASE.replace('  oldAddress: String @deprecated(reason: "use address")\n', "")
    assert problems(current, listed) == {"Field Household.oldAddress was removed.": "not listed as intended"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("minimum_deprecation_days = -1", "minimum_deprecation_days must be a whole number"),
        ('[[change]]\nschema = "main"\nchange = "x"\nreason = "y"\n', "missing ['deprecated_on']"),
        ('[[change]]\nschema = "main"\nchange = "x"\nreason = "y"\ndeprecated_on = "2026-01-01"\n', "without quotes"),
        ('[[change]]\nschema = "mine"\nchange = "x"\nreason = "y"\ndeprecated_on = 2026-01-01\n', "schema must be"),
        ('[[change]]\nschema = "main"\nchange = "x"\nreason = " "\ndeprecated_on = 2026-01-01\n', "reason must be"),
        ('[[change]]\nschema = "main"\nchange = "x"\nreason = "y"\ndeprecated_on = 2026-01-01\nwhy = 1\n', "unknown"),
        ("change = [", "not valid TOML"),
    ],
)
def test_a_bad_intended_changes_file_is_refused_naming_the_entry(text: str, message: str) -> None:
    with pytest.raises(ContractFileError, match="intended-changes.toml") as raised:
        parse_intended(text, "intended-changes.toml")
    assert message in str(raised.value)


def test_the_committed_intended_changes_file_reads() -> None:
    listed = CliRunner().invoke(app, ["schema", "breaking", "--against", str(CONTRACT.parent)])
    assert listed.exit_code == 0, listed.output
    assert "no unintended breaking changes" in listed.output


# --- the command on the real contract -------------------------------------------------------------


def contract_folder(tmp_path: Path, schema: str, intended_text: str = "") -> Path:
    folder = tmp_path / "contract"
    folder.mkdir()
    (folder / "schema.graphql").write_text(schema, encoding="utf-8")
    (folder / "intended-changes.toml").write_text(intended_text, encoding="utf-8")
    return folder


def breaking(folder: Path, against: Path) -> tuple[int, str]:
    result = CliRunner().invoke(
        app,
        ["schema", "breaking", "--against", str(against), "--dir", str(folder)]
        + ["--intended", str(folder / "intended-changes.toml")],
    )
    return result.exit_code, result.output


def test_command_fails_on_a_field_removed_from_the_real_contract(tmp_path: Path) -> None:
    real = CONTRACT.read_text(encoding="utf-8")
    household = "type Household implements Node {\n  id: ID!\n"
    assert household in real and "  villageCode: String!\n  address: String!\n" in real.split(household)[1]
    without_address = household + real.split(household)[1].replace("  address: String!\n", "", 1)
    folder = contract_folder(tmp_path, real.split(household)[0] + without_address)
    code, output = breaking(folder, CONTRACT)
    assert code == 1
    assert "breaking [main]: Field Household.address was removed. — not listed as intended" in output
    assert "intended-changes.toml" in output


def test_command_passes_a_listed_removal_and_an_added_field(tmp_path: Path) -> None:
    base = CONTRACT.read_text(encoding="utf-8").replace(
        "type Query {\n", 'type Query {\n  legacyCount: Int @deprecated(reason: "use households")\n', 1
    )
    (tmp_path / "base.graphql").write_text(base, encoding="utf-8")
    current = CONTRACT.read_text(encoding="utf-8").replace("type Query {\n", "type Query {\n  newCount: Int\n", 1)
    listed = (
        '[[change]]\nschema = "main"\nchange = "Field Query.legacyCount was removed."\n'
        'reason = "nobody used it"\ndeprecated_on = 2020-01-01\n'
    )
    code, output = breaking(contract_folder(tmp_path, current, listed), tmp_path / "base.graphql")
    assert code == 0, output
    assert "intended [main]: Field Query.legacyCount was removed. (nobody used it)" in output


def test_command_refuses_a_base_that_is_not_a_schema(tmp_path: Path) -> None:
    (tmp_path / "base.graphql").write_text("type Query {", encoding="utf-8")
    code, output = breaking(contract_folder(tmp_path, CONTRACT.read_text(encoding="utf-8")), tmp_path / "base.graphql")
    assert code == 2 and "not a valid GraphQL schema" in output
    empty = tmp_path / "empty"
    empty.mkdir()
    code, output = breaking(tmp_path / "contract", empty)
    assert code == 2 and "holds neither schema.graphql nor schema.public.graphql" in output


# --- the CI step: which commit is the base --------------------------------------------------------

CONTRACT_BASE = REPOSITORY / ".ci" / "contract-base"
CONTRACT_BREAKING = REPOSITORY / ".ci" / "contract-breaking"
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(repo: Path, *args: str) -> str:
    command = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "init.defaultBranch=main", *args]
    return subprocess.run(command, cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def commit(repo: Path, schema: str | None, message: str) -> str:
    if schema is not None:
        (repo / "contract").mkdir(exist_ok=True)
        (repo / "contract" / "schema.graphql").write_text(schema, encoding="utf-8")
    else:
        (repo / "README").write_text(message, encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def base_of(repo: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CONTRACT_BASE)], cwd=repo, capture_output=True, text=True, check=True)


@needs_git
def test_ci_base_is_the_merge_base_on_a_branch_and_the_previous_commit_on_main(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    first = commit(repo, None, "first")
    only = base_of(repo)
    assert only.stdout == "" and "first commit" in only.stderr
    second = commit(repo, BASE, "second")
    assert base_of(repo).stdout.strip() == first  # on main: the previous commit
    git(repo, "checkout", "-q", "-b", "feature")
    commit(repo, BASE + "\nscalar A\n", "feature 1")
    commit(repo, BASE + "\nscalar B\n", "feature 2")
    git(repo, "checkout", "-q", "main")
    third = commit(repo, None, "main moves on")
    git(repo, "checkout", "-q", "feature")
    assert base_of(repo).stdout.strip() == second  # on a branch: where it left main
    git(repo, "checkout", "-q", "main")
    assert base_of(repo).stdout.strip() == second != third


@needs_git
def test_ci_base_in_a_shallow_clone_or_outside_git_is_skipped(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    commit(repo, BASE, "first")
    commit(repo, BASE + "\nscalar A\n", "second")
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{repo}", "shallow")
    shallow = base_of(tmp_path / "shallow")
    assert shallow.stdout == "" and "shallow clone" in shallow.stderr
    outside = tmp_path / "plain"
    outside.mkdir()
    assert base_of(outside).stderr.strip() == "not a git checkout"


@needs_git
def test_ci_step_fails_on_a_removed_field_and_passes_an_added_one(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    commit(repo, None, "before the contract")
    siks = [sys.executable, "-m", "core.cli"]
    step = [str(CONTRACT_BREAKING), *siks]

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(step, cwd=repo, capture_output=True, text=True, check=False)

    commit(repo, BASE, "the contract")
    skipped = run()
    assert skipped.returncode == 0 and "has no contract/schema.graphql yet" in skipped.stdout
    git(repo, "checkout", "-q", "-b", "feature")
    commit(repo, BASE.replace("  address: String!\n", ""), "drop the address")
    removed = run()
    assert removed.returncode == 1
    assert "Field Household.address was removed. — not listed as intended" in removed.stderr
    git(repo, "reset", "-q", "--hard", "HEAD~1")
    commit(repo, BASE.replace("  id: ID!\n", "  id: ID!\n  rt: String\n"), "add RT")
    added = run()
    assert added.returncode == 0, added.stderr
    assert "no unintended breaking changes" in added.stdout
