"""The chat widget: the script itself, its public configuration, and its settings per knowledge
base (docs/widget.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from api.auth import check_kb, limit_address, require
from api.deps import CatalogDep, HandoffDep, SettingsDep, WidgetsDep
from api.middleware.ratelimit import STATE_KEY, RateLimiter
from api.schemas.widget import WidgetConfigOut, WidgetSettingsIn, WidgetSettingsOut
from api.web.asset import widget_asset
from kb.access.models import ApiKey
from kb.errors import Forbidden, KBError, Unauthorized, ValidationFailed
from kb.models import KnowledgeBase

# Guarded per route: the script is public, the configuration takes the page's key, settings
# are for administrators.
router = APIRouter(tags=["widget"])

_NO_KEY = (
    "Send the publishable key as ?key= (or as 'X-API-Key: <key>' or 'Authorization: Bearer <key>')."
)


@router.get("/widget.js", include_in_schema=False)
def widget_script(request: Request, settings: SettingsDep) -> Response:
    """The widget, cached by browsers for ``KB_WIDGET__CACHE_MAX_AGE_S`` then revalidated."""
    asset = widget_asset()
    headers = {
        "ETag": asset.etag,
        "Cache-Control": f"public, max-age={settings.widget.cache_max_age_s}",
        "Vary": "Accept-Encoding",
        # Loaded by other sites' pages, including ones that require cross-origin opt-in.
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    if asset.matches(request.headers.get("if-none-match")):
        return Response(status_code=304, headers=headers)
    body = asset.body
    if "gzip" in request.headers.get("accept-encoding", "").lower():
        body, headers["Content-Encoding"] = asset.gzipped, "gzip"
    return Response(body, media_type="text/javascript; charset=utf-8", headers=headers)


def _presented(request: Request, key: str | None) -> str | None:
    if key:
        return key
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("x-api-key", "").strip() or None


def _widget_caller(request: Request, key: str | None) -> ApiKey | None:
    """The key of a configuration request, checked as ``api.auth.require("chat")`` checks one,
    but also read from the query: a GET without custom headers needs no CORS preflight."""
    container = request.app.state.container
    limit_address(request)
    if not container.settings.security.auth_enabled:
        return None
    secret = _presented(request, key)
    if secret is None:
        raise Unauthorized(_NO_KEY)
    found: ApiKey | None = container.keys.authenticate(secret) or container.oauth.authenticate(
        secret
    )
    if found is None:
        raise Unauthorized("The API key or access token is unknown, revoked or expired.")
    if key and found.kind != "publishable":
        # URLs end up in logs and browser histories: only a key meant to be public goes there.
        raise Unauthorized("Only a publishable key may be sent as ?key=; send others as a header.")
    limiter: RateLimiter = request.app.state.rate_limiter
    if limiter.enabled:
        setattr(
            request.state,
            STATE_KEY,
            limiter.hit(f"key:{found.prefix}", found.kind == "publishable"),
        )
    origin = request.headers.get("origin", "").lower()
    if found.kind == "publishable" and origin not in found.allowed_origins:
        raise Forbidden(
            "A publishable key works only from the web sites it lists; this request's Origin "
            f"{origin or '(none)'} is not one of them."
        )
    if not found.has_scope("chat"):
        raise Forbidden("This API key lacks the 'chat' scope.", required_scope="chat")
    return found


def _knowledge_base(
    request: Request, catalog: CatalogDep, key: ApiKey | None, ref: str | None
) -> KnowledgeBase:
    if ref is None and key is not None and key.kb_ids is not None and len(key.kb_ids) == 1:
        ref = key.kb_ids[0]
    if ref is None:
        raise ValidationFailed("Name the knowledge base with ?kb= (a publishable key names it).")
    check_kb(request, key, ref)
    return catalog.require_kb(ref)


@router.get("/v1/widget/config", response_model=WidgetConfigOut)
def widget_config(
    request: Request,
    response: Response,
    catalog: CatalogDep,
    widgets: WidgetsDep,
    handoff: HandoffDep,
    key: Annotated[
        str | None,
        Query(max_length=200, description="The publishable key (or send it as a header)."),
    ] = None,
    kb: Annotated[
        str | None,
        Query(
            max_length=200, description="Knowledge base id or name; implied by a publishable key."
        ),
    ] = None,
) -> WidgetConfigOut:
    """The widget's public settings for the page's key: what it shows, and the knowledge base.

    Errors are readable from any origin, so a widget on a page its key does not list can say
    why it cannot start; the body holds nothing but the public settings.
    """
    origin = request.headers.get("origin")
    try:
        caller = _widget_caller(request, key)
        found = _knowledge_base(request, catalog, caller, kb)
        stored, _updated = widgets.get(found.id)
        if stored.get("enabled") is False:
            raise Forbidden("The chat widget is turned off for this knowledge base.")
    except KBError as exc:
        if origin:
            exc.response_headers["Access-Control-Allow-Origin"] = origin
        raise
    response.headers["Cache-Control"] = "no-cache"
    # The "talk to a person" button shows when the knowledge base hands conversations over.
    stored["handoff"] = handoff.policy(found.id).enabled
    return WidgetConfigOut.of(found.id, found.name, stored)


@router.get(
    "/v1/kbs/{kb_id}/widget",
    response_model=WidgetSettingsOut,
    dependencies=[Depends(require("admin"))],
)
def get_widget(kb_id: str, catalog: CatalogDep, widgets: WidgetsDep) -> WidgetSettingsOut:
    """The knowledge base's widget settings (the defaults until saved)."""
    found = catalog.require_kb(kb_id).id
    return WidgetSettingsOut.of(found, *widgets.get(found))


@router.put(
    "/v1/kbs/{kb_id}/widget",
    response_model=WidgetSettingsOut,
    dependencies=[Depends(require("admin"))],
)
def put_widget(
    kb_id: str, body: WidgetSettingsIn, catalog: CatalogDep, widgets: WidgetsDep
) -> WidgetSettingsOut:
    """Replace the knowledge base's widget settings (validated: hex colours, http(s) URLs)."""
    found = catalog.require_kb(kb_id).id
    stored = body.model_dump(mode="json")
    return WidgetSettingsOut.of(found, stored, widgets.put(found, stored))
