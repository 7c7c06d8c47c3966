"""``kb keys``: create (the first admin key too, or a publishable browser key), list, revoke and
rotate API keys; ``kb oauth-clients``: create, list and revoke OAuth clients."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from kb.access.keys import KeyRepository
from kb.access.models import PUBLISHABLE_SCOPES, SCOPES, IssuedKey, KeyKind
from kb.access.oauth import OAuthClientRepository
from kb.db.audit import CLI_ACTOR, AuditEvent, AuditLog
from kb.db.registry import Registry
from kb.errors import KnowledgeBaseNotFound
from kb.runtime.private_files import keep_private
from kb.settings import Settings

keys_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)
oauth_app = typer.Typer(help="Manage OAuth 2.0 clients (client credentials).", no_args_is_help=True)
console = Console()
err = Console(stderr=True)


@contextmanager
def _repository() -> Iterator[tuple[Registry, KeyRepository]]:
    # Only the registry database: managing keys must not load the embedding model.
    settings = Settings()
    keep_private(settings.storage.data_dir)  # owner-only, and all it will hold
    registry = Registry.from_settings(settings)
    try:
        grace = timedelta(seconds=settings.security.key_grace_period_s)
        yield registry, KeyRepository(registry.engine, grace)
    finally:
        registry.close()


def _show_secret(issued: IssuedKey) -> None:
    err.print(f"Created {issued.key.prefix} ({', '.join(issued.key.scopes)}).")
    err.print("This is the only time the key is shown; store it now:")
    typer.echo(issued.secret)  # alone on stdout, so `KEY=$(kb keys create ...)` works


def _kb_ids(registry: Registry, refs: list[str] | None) -> list[str] | None:
    kb_ids = []
    for ref in refs or []:
        found = registry.find_kb(ref)
        if found is None:
            raise KnowledgeBaseNotFound(f"No knowledge base has the id or name {ref!r}.")
        kb_ids.append(found.id)
    return kb_ids or None


KbOption = Annotated[
    list[str] | None,
    typer.Option("--kb", help="Restrict to this knowledge base (id or name); repeatable."),
]
NameOption = Annotated[str, typer.Option(help="A label to recognise it by.")]


@keys_app.command("create")
def create_key(
    scope: Annotated[
        list[str] | None,
        typer.Option("--scope", help=f"One of {', '.join(SCOPES)}; repeatable."),
    ] = None,
    kb: KbOption = None,
    name: NameOption = "",
    publishable: Annotated[
        bool,
        typer.Option(
            "--publishable", help="A browser key: chat only, exactly one --kb, some --origin."
        ),
    ] = False,
    origin: Annotated[
        list[str] | None,
        typer.Option("--origin", help="A web origin (https://host[:port]) the key works from."),
    ] = None,
) -> None:
    """Create a key and print its secret once (e.g. the first one: --scope admin)."""
    scopes = scope or (list(PUBLISHABLE_SCOPES) if publishable else [])
    kind: KeyKind = "publishable" if publishable else "secret"
    with _repository() as (registry, keys):
        issued = keys.create(scopes, _kb_ids(registry, kb), name, kind, origin)
        event = AuditEvent(CLI_ACTOR, "key.create", 201, target={"prefix": issued.key.prefix})
        AuditLog(registry.engine).record(event)
        _show_secret(issued)


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
            if key.allowed_origins:  # a publishable key (kb_pub_ prefix)
                kbs += f" from {' '.join(key.allowed_origins)}"
            table.add_row(key.prefix, key.name, " ".join(key.scopes), kbs, created, status)
    console.print(table)


@keys_app.command("revoke")
def revoke_key(prefix: Annotated[str, typer.Argument(help="The key's prefix.")]) -> None:
    """Revoke a key at once."""
    with _repository() as (registry, keys):
        keys.revoke(prefix)
        event = AuditEvent(CLI_ACTOR, "key.revoke", 200, target={"prefix": prefix})
        AuditLog(registry.engine).record(event)
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
    with _repository() as (registry, keys):
        issued = keys.rotate(prefix, grace)
        target = {"prefix": prefix, "replaced_by": issued.key.prefix}
        AuditLog(registry.engine).record(AuditEvent(CLI_ACTOR, "key.rotate", 201, target=target))
        _show_secret(issued)


@contextmanager
def _clients() -> Iterator[tuple[Registry, OAuthClientRepository]]:
    with _repository() as (registry, _keys):
        yield registry, OAuthClientRepository(registry.engine)


@oauth_app.command("create")
def create_client(
    scope: Annotated[
        list[str], typer.Option("--scope", help=f"One of {', '.join(SCOPES)}; repeatable.")
    ],
    kb: KbOption = None,
    name: NameOption = "",
) -> None:
    """Create a client; prints its client_id, then its secret once (two lines on stdout)."""
    with _clients() as (registry, clients):
        issued = clients.create(scope, _kb_ids(registry, kb), name)
        target = {"client_id": issued.client.client_id}
        AuditLog(registry.engine).record(
            AuditEvent(CLI_ACTOR, "oauth_client.create", 201, target=target)
        )
    err.print(f"Created {issued.client.client_id} ({', '.join(issued.client.scopes)}).")
    err.print("This is the only time the client secret is shown; store it now:")
    typer.echo(issued.client.client_id)
    typer.echo(issued.secret)


@oauth_app.command("list")
def list_clients() -> None:
    """List clients (ids, never secrets)."""
    table = Table()
    table.add_column("client_id", no_wrap=True)
    for column in ("name", "scopes", "knowledge bases", "created", "status"):
        table.add_column(column)
    with _clients() as (_registry, clients):
        for client in clients.list():
            kbs = ", ".join(client.kb_ids) if client.kb_ids is not None else "all"
            status = "active" if client.active else "revoked"
            created = f"{client.created_at:%Y-%m-%d %H:%M}"
            scopes = " ".join(client.scopes)
            table.add_row(client.client_id, client.name, scopes, kbs, created, status)
    console.print(table)


@oauth_app.command("revoke")
def revoke_client(client_id: Annotated[str, typer.Argument(help="The client's id.")]) -> None:
    """Revoke a client: its tokens stop working at once."""
    with _clients() as (registry, clients):
        clients.revoke(client_id)
        target = {"client_id": client_id}
        AuditLog(registry.engine).record(
            AuditEvent(CLI_ACTOR, "oauth_client.revoke", 200, target=target)
        )
    err.print(f"Revoked {client_id}.")
