"""The committed API contract (contract/*.graphql) is the schema the code builds, with the built-in plugins only."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.cli import app
from core.contract.sdl import (
    CONTRACT_PLUGINS,
    MAIN_FILE,
    PUBLIC_FILE,
    Contract,
    ContractError,
    code_contract,
    contract_environment,
    print_schemas,
)
from core.foundation.settings import Mode, Settings
from core.public.schema import build_public_schema
from core.schema.build import build_schema

REPOSITORY = Path(__file__).resolve().parent.parent
CONTRACT_DIR = REPOSITORY / "contract"


@pytest.fixture(scope="module")
def contract() -> Contract:
    return code_contract()


@pytest.mark.parametrize("name", [MAIN_FILE, PUBLIC_FILE])
def test_committed_contract_is_the_schema_the_code_builds(contract: Contract, name: str) -> None:
    committed = (CONTRACT_DIR / name).read_text(encoding="utf-8")
    assert committed == contract.files()[name], (
        f"contract/{name} differs from the schema the code builds: run `siks schema export` and commit the result"
    )


def test_the_contract_has_the_built_in_programs_and_not_the_installed_third_party_plugin(contract: Contract) -> None:
    # This test process loads every installed plugin, the fixture plugin siks_elderly among them ...
    assert "elderlyAssistance" in build_schema().as_str()
    # ... the contract is printed with the four built-in programs only.
    assert "elderly" not in contract.main.lower() and "aslut" not in contract.main.lower()
    assert "kubeGroups(villageCode: String!): [KubeGroup!]!" in contract.main  # the KUBe plugin's query field
    assert "cekBansos(" in contract.public and "households(" not in contract.public


def test_printing_refuses_a_process_with_other_plugins() -> None:
    with pytest.raises(ContractError, match="bpnt, bst, kube, pbi_jk, pkh"):
        print_schemas()


def test_the_printing_process_gets_no_siks_setting_but_the_contract_plugins() -> None:
    environment = contract_environment(
        {"PATH": "/usr/bin", "SIKS_PLUGINS": "elderly", "SIKS_MODE": "production", "SIKS_MAX_PAGE_SIZE": "5"}
    )
    assert environment == {"PATH": "/usr/bin", "SIKS_PLUGINS": ",".join(CONTRACT_PLUGINS)}


def test_mode_and_limits_do_not_change_the_schemas() -> None:
    development = Settings(_env_file=None, mode=Mode.DEVELOPMENT)  # type: ignore[call-arg]
    production = Settings(
        _env_file=None,  # type: ignore[call-arg]
        mode=Mode.PRODUCTION,
        secret_key="x" * 40,
        max_page_size=7,
        max_query_depth=3,
        max_query_cost=10,
        public_max_results=2,
    )
    assert build_schema(development).as_str() == build_schema(production).as_str()
    assert build_public_schema(development).as_str() == build_public_schema(production).as_str()


def test_export_writes_the_contract_and_check_finds_a_stale_file(contract: Contract, tmp_path: Path) -> None:
    runner = CliRunner()
    written = runner.invoke(app, ["schema", "export", "--dir", str(tmp_path)])
    assert written.exit_code == 0, written.output
    assert {name: (tmp_path / name).read_text(encoding="utf-8") for name in contract.files()} == contract.files()
    assert runner.invoke(app, ["schema", "export", "--dir", str(tmp_path), "--check"]).exit_code == 0

    stale = contract.main.replace("  me: Me!\n", "")
    (tmp_path / MAIN_FILE).write_text(stale, encoding="utf-8")
    checked = runner.invoke(app, ["schema", "export", "--dir", str(tmp_path), "--check"])
    assert checked.exit_code == 1
    assert "run `siks schema export`" in checked.output and MAIN_FILE in checked.output
    assert PUBLIC_FILE not in checked.output
    assert (tmp_path / MAIN_FILE).read_text(encoding="utf-8") == stale  # --check writes nothing

    again = runner.invoke(app, ["schema", "export", "--dir", str(tmp_path)])
    assert again.exit_code == 0 and f"wrote {tmp_path / MAIN_FILE}" in again.output
    assert (tmp_path / MAIN_FILE).read_text(encoding="utf-8") == contract.main
