"""``kb keys``: create (the first admin key too), list, revoke and rotate API keys."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from kb.errors import KnowledgeBaseNotFound
from kb.keys import SCOPES, IssuedKey, KeyRepository
from kb.registry import Registry
from kb.settings import Settings

keys_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)


@contextmanager
def _repository() -> Iterator[tuple[Registry, KeyRepository]]:
    # Only the registry database: managing keys must not load the embedding model.
    settings = Settings()
    settings.storage.data_dir.mkdir(parents=True, exist_ok=True)
    registry = Registry(settings.database_url)
    try:
        grace = timedelta(seconds=settings.security.key_grace_period_s)
        yield registry, KeyRepository(registry.engine, grace)
    finally:
        registry.close()


def _show_secret(issued: IssuedKey) -> None:
    err.print(f"Created {issued.key.prefix} ({', '.join(issued.key.scopes)}).")
    err.print("This is the only time the key is shown; store it now:")
    typer.echo(issued.secret)  # alone on stdout, so `KEY=$(kb keys create ...)` works


@keys_app.command("create")
def create_key(
    scope: Annotated[
        list[str], typer.Option("--scope", help=f"One of {', '.join(SCOPES)}; repeatable.")
    ],
    kb: Annotated[
        list[str] | None,
        typer.Option("--kb", help="Restrict to this knowledge base (id or name); repeatable."),
    ] = None,
    name: Annotated[str, typer.Option(help="A label to recognise the key by.")] = "",
) -> None:
    """Create a key and print its secret once (e.g. the first one: --scope admin)."""
    with _repository() as (registry, keys):
        kb_ids = []
        for ref in kb or []:
            found = registry.find_kb(ref)
            if found is None:
                raise KnowledgeBaseNotFound(f"No knowledge base has the id or name {ref!r}.")
            kb_ids.append(found.id)
        _show_secret(keys.create(scope, kb_ids or None, name))


@keys_app.command("list")
def list_keys() -> None:
    """List keys (prefixes, never secrets)."""
    table = Table()
    table.add_column("prefix", no_wrap=True)  # what `kb keys revoke` needs, so never cut
    for column in ("name", "scopes", "knowledge bases", "created", "status"):
        table.add_column(column)
    with _repository() as (_registry, keys):
        for key in keys.list():
            status = "active" if key.is_active() else "revoked" if key.revoked_at else "expired"
            if key.is_active() and key.expires_at:
                status = f"expires {key.expires_at:%Y-%m-%d %H:%M}"
            kbs = ", ".join(key.kb_ids) if key.kb_ids is not None else "all"
            created = f"{key.created_at:%Y-%m-%d %H:%M}"
            table.add_row(key.prefix, key.name, " ".join(key.scopes), kbs, created, status)
    console.print(table)


@keys_app.command("revoke")
def revoke_key(prefix: Annotated[str, typer.Argument(help="The key's prefix.")]) -> None:
    """Revoke a key at once."""
    with _repository() as (_registry, keys):
        keys.revoke(prefix)
    err.print(f"Revoked {prefix}.")


@keys_app.command("rotate")
def rotate_key(
    prefix: Annotated[str, typer.Argument(help="The key's prefix.")],
    grace_period_s: Annotated[
        int | None, typer.Option(help="Seconds the old key keeps working.")
    ] = None,
) -> None:
    """Issue a replacement key; the old one works for the grace period."""
    grace = None if grace_period_s is None else timedelta(seconds=grace_period_s)
    with _repository() as (_registry, keys):
        _show_secret(keys.rotate(prefix, grace))
