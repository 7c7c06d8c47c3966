"""Alembic migrations of the registry database (``kb migrate``; ``kb.db.migrate``): the revisions
in ``versions/``, the steps they share (``ops``), and the tables they are compared with."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from sqlalchemy import MetaData

from kb.db.base import Base

# Packages whose modules map tables on ``Base``: all imported before comparing or migrating.
TABLE_PACKAGES = ("kb.db", "kb.access", "kb.webhooks", "kb.jobs")


def metadata() -> MetaData:
    """``Base.metadata`` with every table of the packages in ``TABLE_PACKAGES`` mapped."""
    for name in TABLE_PACKAGES:
        try:
            package = importlib.import_module(name)
        except ModuleNotFoundError:
            continue  # a package not written yet
        for module in pkgutil.walk_packages(package.__path__, f"{name}."):
            if ".migrations" not in module.name:
                importlib.import_module(module.name)
    return Base.metadata


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Compare only what ``Base`` maps: tables the database has besides (the PostgreSQL
    lexical index's, a legacy copy of user profiles) are not the registry's to drop."""
    return not (type_ == "table" and reflected and compare_to is None)
