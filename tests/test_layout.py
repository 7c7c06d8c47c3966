"""The shape of the codebase: required layout, one direction of imports, documented settings."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from pydantic import BaseModel

from kb.settings import Settings

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("kb", "ingest", "engine", "api")
ALLOWED = {
    "kb": set(),
    "ingest": {"kb"},
    "engine": {"kb"},
    "api": {"kb", "ingest", "engine"},
}


def test_required_layout_exists() -> None:
    for name in (*PACKAGES, "tests", "data"):
        assert (REPO / name).is_dir(), name
    assert (REPO / "pyproject.toml").is_file()


def _imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & set(PACKAGES)


def test_imports_point_one_way() -> None:
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            wrong = _imported_packages(path) - ALLOWED[package] - {package}
            assert not wrong, f"{path.relative_to(REPO)} imports {wrong}"


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


def test_every_setting_is_described_and_documented_in_readme() -> None:
    readme = (REPO / "README.md").read_text()
    for env_name in _env_names(Settings, "KB_"):
        assert env_name in readme, f"{env_name} is not documented in README.md"


def test_ci_runs_the_readme_test_command() -> None:
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    assert re.search(r"^make test\b", readme, re.M)
    assert re.search(r"^make test$", ci, re.M)
