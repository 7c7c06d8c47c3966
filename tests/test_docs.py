"""The documentation stays true to the code: every setting is documented, links resolve, and the
README stays a short user's document."""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import AliasChoices, AliasPath, BaseModel
from pydantic.fields import FieldInfo

from kb.settings import Settings

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
DOCS = REPO / "docs"
CONFIGURATION = DOCS / "configuration.md"
MARKDOWN = [README, REPO / "CHANGELOG.md", *sorted(DOCS.glob("*.md"))]


def _sections(annotation: object) -> list[type[BaseModel]]:
    """The BaseModel classes an annotation holds (``X``, ``X | None``, ``Annotated[X, ...]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, typing.Annotated):
        return [m for arg in typing.get_args(annotation) for m in _sections(arg)]
    return []


def _env_name(name: str, field: FieldInfo) -> str:
    """The name the environment uses for a field: its alias when it has a plain one."""
    alias = field.validation_alias or field.alias
    if isinstance(alias, AliasChoices):
        alias = next((choice for choice in alias.choices if isinstance(choice, str)), None)
    if isinstance(alias, AliasPath) or not isinstance(alias, str):
        return name
    return alias


def env_vars(model: type[BaseModel], prefix: str) -> Iterator[str]:
    """Environment variables of every leaf field, walking nested sections recursively."""
    delimiter = Settings.model_config.get("env_nested_delimiter") or "__"
    for name, field in model.model_fields.items():
        path = f"{prefix}{_env_name(name, field).upper()}"
        sections = _sections(field.annotation)
        if sections:
            for section in sections:
                yield from env_vars(section, path + delimiter)
        else:
            yield path


def all_env_vars() -> list[str]:
    """Every setting's environment variable, e.g. ``KB_EMBEDDING__THREADS``."""
    prefix = Settings.model_config.get("env_prefix") or ""
    return sorted(set(env_vars(Settings, prefix.upper())))


def test_the_walk_finds_nested_settings() -> None:
    names = all_env_vars()
    assert "KB_EMBEDDING__THREADS" in names
    assert "KB_STORAGE__DATA_DIR" in names
    assert all(n.startswith("KB_") for n in names)


@pytest.mark.parametrize("name", all_env_vars())
def test_every_setting_is_documented(name: str) -> None:
    assert f"`{name}`" in CONFIGURATION.read_text(encoding="utf-8"), (
        f"{name} is a setting but docs/configuration.md does not list it"
    )


_FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"!?\[[^\]\n]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def _prose(text: str) -> str:
    """Markdown without code, where link syntax is only an example."""
    return _INLINE_CODE.sub("", _FENCE.sub("", text))


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors of a Markdown file."""
    seen: dict[str, int] = {}
    anchors = set()
    for heading in _HEADING.findall(_FENCE.sub("", path.read_text(encoding="utf-8"))):
        slug = re.sub(r"[^\w\- ]", "", heading.replace("`", "").strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def _links() -> list[tuple[Path, str]]:
    return [
        (path, target)
        for path in MARKDOWN
        for target in _LINK.findall(_prose(path.read_text(encoding="utf-8")))
        if not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE)  # http:, mailto:, ...
    ]


def test_the_docs_have_links() -> None:
    assert len(_links()) > 10


@pytest.mark.parametrize(
    ("source", "target"),
    [pytest.param(s, t, id=f"{s.relative_to(REPO)}->{t}") for s, t in _links()],
)
def test_relative_links_resolve(source: Path, target: str) -> None:
    file_part, _, anchor = target.partition("#")
    destination = (source.parent / file_part).resolve() if file_part else source
    assert destination.exists(), f"{source.relative_to(REPO)} links to missing {file_part}"
    if anchor and destination.suffix == ".md":
        assert anchor in _anchors(destination), (
            f"{source.relative_to(REPO)} links to #{anchor}, a heading {file_part or 'it'} lacks"
        )


def test_readme_is_a_short_users_document() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 400
    assert "make serve" in text
    assert "make test" in text
    assert not re.search(r"this session", text, re.IGNORECASE)
    hashes = [
        word
        for word in re.findall(r"\b[0-9a-f]{7,40}\b", text)
        if re.search(r"[0-9]", word) and re.search(r"[a-f]", word)
    ]
    assert not hashes, f"commit-hash-like words in README.md: {hashes}"
