"""FastAPI dependencies: services from the container the app was created with."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from api.container import Container
from engine.answer import QueryService
from engine.retrieval.retriever import Retriever
from ingest.pipeline.service import IngestionService
from kb.catalog import Catalog
from kb.settings import Settings


def get_container(request: Request) -> Container:
    """The container handed to create_app."""
    container: Container = request.app.state.container
    return container


def _catalog(request: Request) -> Catalog:
    return get_container(request).catalog


def _ingestion(request: Request) -> IngestionService:
    return get_container(request).ingestion


def _retriever(request: Request) -> Retriever:
    return get_container(request).retriever


def _queries(request: Request) -> QueryService:
    return get_container(request).queries


def _settings(request: Request) -> Settings:
    return get_container(request).settings


CatalogDep = Annotated[Catalog, Depends(_catalog)]
IngestionDep = Annotated[IngestionService, Depends(_ingestion)]
RetrieverDep = Annotated[Retriever, Depends(_retriever)]
QueriesDep = Annotated[QueryService, Depends(_queries)]
SettingsDep = Annotated[Settings, Depends(_settings)]
ContainerDep = Annotated[Container, Depends(get_container)]
LimitDep = Annotated[int, Query(ge=1, le=1000, description="Page size.")]
OffsetDep = Annotated[int, Query(ge=0, description="Items to skip.")]
