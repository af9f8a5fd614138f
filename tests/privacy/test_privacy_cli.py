"""``kbrank privacy report CUSTOMER --store PATH --key-env VAR``: the data-subject access report on the
command line, and its one-line errors with meaningful exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _privacy_helpers import KEY
from typer.testing import CliRunner

from kbrank.cli import app
from kbrank.privacy import ProfileGateway, Pseudonymizer

runner = CliRunner()
ENV = {"KBRANK_TEST_KEY": KEY, "COLUMNS": "200"}


@pytest.fixture
def store_path(tmp_path: Path, helpcentre) -> Path:
    path = tmp_path / "profiles.db"
    with ProfileGateway.from_helpcentre(helpcentre, key=KEY, path=path) as gateway:
        gateway.read("cust-0002", "personalization", requester="kbrank.personalize", degrade=True)
    return path


def _report(*args: str, env: dict | None = None):
    return runner.invoke(app, ["privacy", "report", *args], env=ENV if env is None else env)


def test_the_report_shows_data_purposes_and_history(store_path: Path) -> None:
    result = _report("cust-0002", "--store", str(store_path), "--key-env", "KBRANK_TEST_KEY")
    assert result.exit_code == 0, result.output
    pseudonym = Pseudonymizer(KEY)("cust-0002")
    for text in ("Data-subject access report", pseudonym, "Data held", "cust-0002@example.com",
                 "What each purpose may use", "proactive-contact", "Usage history is kept for 365 days",
                 "Access history", "kbrank.personalize", "kbrank.datasets", "kbrank.cli"):
        assert text in result.output, text


def test_the_report_as_json(store_path: Path, helpcentre) -> None:
    result = _report("cust-0002", "--store", str(store_path), "--key-env", "KBRANK_TEST_KEY", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    customer = helpcentre.customer("cust-0002")
    assert payload["data"]["addresses"] == customer["addresses"]
    assert len(payload["data"]["owned"]) == len(customer["owned"])
    assert [e["action"] for e in payload["history"]] == ["write", "read", "report"]
    assert {p["purpose"] for p in payload["purposes"]} >= {"personalization", "analytics"}


def test_the_key_env_defaults_to_kbrank_key(store_path: Path) -> None:
    result = _report("cust-0002", "--store", str(store_path), env={"KBRANK_KEY": KEY, "COLUMNS": "200"})
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("args, env, code, message", [
    (["cust-0002"], {}, 2, "field '--key-env': the environment variable holding the key is not set"),
    (["cust-9999"], ENV, 2, "no profile for customer"),
    (["cust-0002"], {"KBRANK_TEST_KEY": "not the key that wrote it"}, 3, "another pseudonymization key"),
    (["cust-0002"], {"KBRANK_TEST_KEY": "short"}, 2, "key must be at least 16 bytes long"),
])
def test_errors_are_one_line_with_exit_codes(store_path: Path, args: list[str], env: dict, code: int,
                                             message: str) -> None:
    result = _report(*args, "--store", str(store_path), "--key-env", "KBRANK_TEST_KEY", env=env)
    assert result.exit_code == code, result.output
    assert message in result.output and "Traceback" not in result.output
    assert env.get("KBRANK_TEST_KEY", "@@") not in result.output  # the key is never shown


def test_a_missing_store_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    result = _report("cust-0002", "--store", str(missing), "--key-env", "KBRANK_TEST_KEY")
    assert result.exit_code == 3 and "no profile store here" in result.output
    assert not missing.exists()
