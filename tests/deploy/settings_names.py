"""Resolve ``KB_SECTION__FIELD`` environment names against ``kb.settings.Settings``."""

from __future__ import annotations

import types
import typing

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from kb.settings import Settings


def _model_of(annotation: object) -> type[BaseModel] | None:
    """The settings section a field holds (``X`` or ``X | None``), if it holds one."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _model_of(arg)
            if found is not None:
                return found
    return None


def setting_field(env_name: str) -> FieldInfo | None:
    """The Settings field an environment name sets, or None when it names none."""
    if not env_name.startswith("KB_"):
        return None
    model: type[BaseModel] = Settings
    parts = env_name.removeprefix("KB_").lower().split("__")
    for depth, part in enumerate(parts):
        field = model.model_fields.get(part)
        if field is None:
            return None
        section = _model_of(field.annotation)
        if depth == len(parts) - 1:
            return field if section is None else None
        if section is None:
            return None
        model = section
    return None


def is_secret(field: FieldInfo) -> bool:
    """Whether a field holds a secret (typed ``SecretStr``)."""
    annotation = field.annotation
    args = typing.get_args(annotation) or (annotation,)
    return any(arg is SecretStr for arg in args)
