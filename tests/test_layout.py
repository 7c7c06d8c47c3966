"""The shape of the codebase: required layout, one direction of imports, documented settings."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from pydantic import BaseModel

from kb.settings import Settings

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("kb", "ingest", "engine", "api")


def test_required_layout_exists() -> None:
    for name in (*PACKAGES, "tests", "data"):
        assert (REPO / name).is_dir(), name
    assert (REPO / "pyproject.toml").is_file()


def test_import_contracts_hold() -> None:
    """The direction api -> engine, ingest -> kb and no import circles, as import-linter checks
    them (contracts in pyproject.toml; `make lint` runs the same)."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def _env_names(model: type[BaseModel], prefix: str) -> list[str]:
    names = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names += _env_names(annotation, f"{prefix}{name.upper()}__")
        else:
            assert field.description, f"{prefix}{name.upper()} has no description"
            names.append(f"{prefix}{name.upper()}")
    return names


def test_every_setting_is_described() -> None:
    """docs/configuration.md lists them (tests/test_docs.py); each also carries its description."""
    assert len(_env_names(Settings, "KB_")) > 50


def test_ci_runs_the_readme_test_command() -> None:
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    assert re.search(r"^make test\b", readme, re.M)
    assert re.search(r"^make test$", ci, re.M)
