"""Fixtures of these tests: a registry database on SQLite and on PostgreSQL."""

from tests.support.databases import database_url  # noqa: F401 (a fixture)
from tests.support.postgres_server import postgres_server  # noqa: F401 (a fixture)
