"""Answering with OpenAI's own API (``openai`` models): the OpenAI-compatible client, with
OpenAI's address and a key of its own (the compatible server's key is never sent to OpenAI)."""

from __future__ import annotations

from engine.llms.providers.base import ProviderSpec
from engine.llms.providers.openai_compatible import OpenAICompatibleModel


class OpenAIModel(OpenAICompatibleModel):
    """A model behind OpenAI's chat-completions API."""

    provider = "openai"
    service = "OpenAI API"


SPEC = ProviderSpec(
    name="openai",
    build=OpenAIModel.from_config,
    settings="openai",
    key_env="KB_LLM__OPENAI__API_KEY",
    key_required=True,
    base_url_required=True,
    stored_credentials=True,
)
