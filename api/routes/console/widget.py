"""Console page of the chat widget: the knowledge base's widget settings (the API's
``WidgetSettingsIn``), the copy-paste snippet and the WordPress instructions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from api.console.pages import render
from api.console.routing import ConsoleRoute
from api.console.session import PREFIX, ConsoleCaller, console, own_origin
from api.deps import CatalogDep, KeysDep, WidgetsDep
from api.schemas.widget import WidgetSettingsIn
from kb.errors import ValidationFailed

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)
# The widget settings routes of the API need the admin scope (restricted keys their own KBs).
_ADMIN = Depends(console("admin"))
_LINES = ("suggestions", "lead_fields")
_CHECKBOXES = ("citations", "handoff", "enabled")


def snippet(origin: str, key: str) -> str:
    """The tag a site pastes before ``</body>``."""
    return f'<script src="{origin}/widget.js" data-key="{key}" async></script>'


def _settings_from(form: dict[str, Any]) -> WidgetSettingsIn:
    data: dict[str, Any] = {}
    for name in WidgetSettingsIn.model_fields:
        if name in _CHECKBOXES:
            data[name] = name in form
        elif name in _LINES:
            data[name] = [line.strip() for line in str(form.get(name, "")).splitlines() if line]
        elif str(form.get(name, "")).strip():
            data[name] = str(form[name]).strip()
    try:
        return WidgetSettingsIn.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ValidationFailed(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from exc


@router.get("/kbs/{kb_id}/widget")
def widget_page(
    request: Request,
    kb_id: str,
    catalog: CatalogDep,
    widgets: WidgetsDep,
    keys: KeysDep,
    caller: ConsoleCaller = _ADMIN,
) -> Response:
    """The settings form, the snippet and the publishable keys of this knowledge base."""
    kb = catalog.get_kb(kb_id)
    stored, updated = widgets.get(kb.id)
    settings = WidgetSettingsIn.model_validate(stored)
    publishable = [
        k for k in keys.list() if k.kind == "publishable" and k.kb_ids == (kb.id,) and k.is_active()
    ]
    origin = own_origin(request)
    return render(
        request,
        "widget.html",
        {
            "kb": kb,
            "tab": "widget",
            "settings": settings,
            "updated": updated,
            "publishable": publishable,
            "origin": origin,
            "snippet": snippet(origin, "YOUR_PUBLISHABLE_KEY"),
            "may_create_keys": caller.is_admin,
        },
    )


@router.post("/kbs/{kb_id}/widget")
async def save_widget(
    request: Request,
    kb_id: str,
    catalog: CatalogDep,
    widgets: WidgetsDep,
    caller: ConsoleCaller = _ADMIN,
) -> Response:
    """Replace the widget settings, validated as PUT /v1/kbs/{kb_id}/widget validates them."""
    kb = catalog.get_kb(kb_id)
    form = dict((await request.form()).items())
    settings = _settings_from(form)
    widgets.put(kb.id, settings.model_dump(mode="json"))
    return RedirectResponse(f"{PREFIX}/kbs/{kb.id}/widget?saved=1", status_code=303)
