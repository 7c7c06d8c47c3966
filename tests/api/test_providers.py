"""Provider keys set over the API: stored encrypted, never shown, used at once, and deletable."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from api.container import Container, build_container
from engine.llms.registry import CREDENTIAL_PROVIDERS
from kb.embeddings.sentence_transformer import SentenceTransformerEmbedder
from tests.conftest import admin_headers, make_settings
from tests.support.fakes.ollama import FakeOllamaServer
from tests.support.fakes.openai import FakeOpenAIServer

ENV_KEY = "sk-environment-key-1111"
STORED_KEY = "sk-stored-secret-key-abcd"
DOC = "# Parking\n\nStaff parking is on level minus two of the garage."
QUESTION = {"question": "Where can staff park?", "model": "openai:gpt-test"}


@dataclass
class Setup:
    client: TestClient
    container: Container
    provider: FakeOpenAIServer
    kb_id: str
    data_dir: Path

    def ask(self) -> dict[str, Any]:
        response = self.client.post(f"/v1/kbs/{self.kb_id}/query", json=QUESTION)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def providers(self) -> dict[str, dict[str, Any]]:
        response = self.client.get("/v1/providers")
        assert response.status_code == 200
        return {p["provider"]: p for p in response.json()}


@pytest.fixture
def setup(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> Iterator[Setup]:
    with FakeOpenAIServer(reply="Level minus two [1].") as provider:
        data_dir = tmp_path / "data"
        settings = make_settings(data_dir, llm__openai__base_url=provider.base_url)
        settings.llm.openai.api_key = SecretStr(ENV_KEY)
        container = build_container(settings, embedder=embedder)
        app = create_app(container)
        with TestClient(app, raise_server_exceptions=False, headers=admin_headers(container)) as c:
            kb_id = c.post("/v1/kbs", json={"name": "office"}).json()["id"]
            c.post(f"/v1/kbs/{kb_id}/documents", files={"file": ("parking.md", DOC.encode())})
            yield Setup(c, container, provider, kb_id, data_dir)


def _stored_bytes(data_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in data_dir.rglob("*") if p.is_file())


def test_a_stored_key_is_encrypted_never_shown_and_used_at_once(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    setup.ask()
    assert setup.provider.requests[-1].headers["authorization"] == f"Bearer {ENV_KEY}"

    put = setup.client.put(
        "/v1/providers/openai", json={"api_key": STORED_KEY, "base_url": setup.provider.base_url}
    )

    assert put.status_code == 200, put.text
    body = put.json()
    assert body["provider"] == "openai" and body["configured"] is True
    assert body["source"] == "stored" and body["key_hint"] == "…abcd"
    assert body["base_url"] == setup.provider.base_url and body["updated_at"]
    assert STORED_KEY not in put.text
    assert STORED_KEY.encode() not in _stored_bytes(setup.data_dir)
    listing = setup.client.get("/v1/providers")
    assert STORED_KEY not in listing.text and ENV_KEY not in listing.text
    assert setup.providers()["openai"]["source"] == "stored"

    answer = setup.ask()  # the cached client built with the environment key is replaced

    assert answer["model"] == "openai:gpt-test"
    assert setup.provider.requests[-1].headers["authorization"] == f"Bearer {STORED_KEY}"
    assert STORED_KEY not in caplog.text


def test_delete_falls_back_to_the_environment_key(setup: Setup) -> None:
    setup.client.put("/v1/providers/openai", json={"api_key": STORED_KEY})
    setup.ask()
    assert setup.provider.requests[-1].headers["authorization"] == f"Bearer {STORED_KEY}"

    deleted = setup.client.delete("/v1/providers/openai")

    assert deleted.status_code == 204
    setup.ask()
    assert setup.provider.requests[-1].headers["authorization"] == f"Bearer {ENV_KEY}"
    shown = setup.providers()["openai"]
    assert shown["source"] == "environment" and shown["key_hint"] is None
    assert setup.client.delete("/v1/providers/openai").status_code == 204  # idempotent


def test_listing_names_every_provider_and_its_source(setup: Setup) -> None:
    setup.client.put("/v1/providers/mistral", json={"api_key": "mk-0123456789"})

    shown = setup.providers()

    assert set(shown) == {"openai", "anthropic", "gemini", "mistral", "ollama", "openai-compatible"}
    assert shown["mistral"]["source"] == "stored" and shown["mistral"]["key_hint"] == "…6789"
    assert shown["openai"]["source"] == "environment" and shown["openai"]["configured"]
    assert shown["anthropic"] == {
        "provider": "anthropic",
        "configured": False,
        "source": "none",
        "key_hint": None,
        "base_url": None,
        "updated_at": None,
    }


def test_a_stored_key_makes_an_unconfigured_provider_available(setup: Setup) -> None:
    ask = {"question": "Where can staff park?", "model": "openai-compatible:gpt-test"}
    before = setup.client.post(f"/v1/kbs/{setup.kb_id}/query", json=ask)
    assert before.status_code == 503 and before.json()["code"] == "model_unavailable"

    setup.client.put(
        "/v1/providers/openai-compatible",
        json={"api_key": "sk-compatible-9999", "base_url": setup.provider.base_url},
    )

    after = setup.client.post(f"/v1/kbs/{setup.kb_id}/query", json=ask)
    assert after.status_code == 200, after.text
    assert setup.provider.requests[-1].headers["authorization"] == "Bearer sk-compatible-9999"


BAD_BODIES: dict[str, tuple[str, object, int, str]] = {
    "unknown provider": ("cohere", {"api_key": "k-123456789"}, 404, "provider_not_found"),
    "key too long": ("openai", {"api_key": "k" * 513}, 422, "validation_failed"),
    "empty key": ("openai", {"api_key": ""}, 422, "validation_failed"),
    "key with a header break": (
        "openai",
        {"api_key": "sk-1\r\nX-Evil: 1"},
        422,
        "validation_failed",
    ),
    "base_url not http": (
        "openai",
        {"api_key": "sk-12345678", "base_url": "file:///etc/passwd"},
        422,
        "validation_failed",
    ),
    "base_url with credentials": (
        "openai",
        {"api_key": "sk-12345678", "base_url": "https://user:pw@api.example.com/v1"},
        422,
        "validation_failed",
    ),
    "base_url too long": (
        "openai",
        {"api_key": "sk-12345678", "base_url": "https://example.com/" + "a" * 2048},
        422,
        "validation_failed",
    ),
    "unknown field": ("openai", {"api_key": "sk-12345678", "org": "x"}, 422, "validation_failed"),
}


@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_bad_credentials_are_refused_and_nothing_is_stored(setup: Setup, case: str) -> None:
    provider, body, status, code = BAD_BODIES[case]

    response = setup.client.put(f"/v1/providers/{provider}", json=body)

    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code
    assert all(p["source"] != "stored" for p in setup.providers().values())


def test_only_unrestricted_admin_keys_manage_providers(setup: Setup) -> None:
    keys = setup.container.keys
    writer = keys.create(["kb:write", "kb:read", "chat"]).secret
    restricted = keys.create(["admin"], kb_ids=[setup.kb_id]).secret
    body = {"api_key": STORED_KEY}

    for secret, status in ((writer, 403), (restricted, 403), ("kb_live_00000000_nope", 401)):
        headers = {"Authorization": f"Bearer {secret}"}
        assert setup.client.put("/v1/providers/openai", json=body, headers=headers).status_code == (
            status
        )
        assert setup.client.get("/v1/providers", headers=headers).status_code == status
    assert setup.providers()["openai"]["source"] == "environment"


def test_a_stored_base_url_moves_the_provider(setup: Setup) -> None:
    with FakeOllamaServer(reply="Level minus two [1].") as ollama:
        put = setup.client.put(
            "/v1/providers/ollama", json={"api_key": "ollama-key-7777", "base_url": ollama.host}
        )
        assert put.status_code == 200 and put.json()["base_url"] == ollama.host

        answer = setup.client.post(
            f"/v1/kbs/{setup.kb_id}/query",
            json={"question": "Where can staff park?", "model": "ollama:llama-test"},
        )

        assert answer.status_code == 200, answer.text
        assert answer.json()["model"] == "ollama:llama-test"
        assert ollama.requests[-1].body["model"] == "llama-test"


def test_the_providers_taking_a_key_are_those_whose_spec_says_so(setup: Setup) -> None:
    """The list comes from the provider specs (``engine.llms.registry``), not a copy in ``kb``."""
    assert list(setup.providers()) == list(CREDENTIAL_PROVIDERS)

    response = setup.client.put("/v1/providers/local", json={"api_key": "k-123456789"})

    assert response.status_code == 404, response.text
    assert response.json()["known_providers"] == list(CREDENTIAL_PROVIDERS)
