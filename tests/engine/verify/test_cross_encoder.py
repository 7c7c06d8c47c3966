"""The NLI cross-encoder seam: no NLI model ships offline, so only its construction errors are
tested; a wrong path must say what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.verify.cross_encoder import CrossEncoderVerifier
from kb.errors import ModelUnavailable


def test_a_missing_model_directory_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nli-deberta-v3-small"
    with pytest.raises(
        ModelUnavailable, match=r"No cross-encoder model directory at .*nli-deberta"
    ):
        CrossEncoderVerifier(missing)


def test_a_directory_without_a_model_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("not a model")
    with pytest.raises(ModelUnavailable, match="not a cross-encoder model directory"):
        CrossEncoderVerifier(tmp_path)


def test_a_broken_model_directory_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelUnavailable, match="Cannot load the cross-encoder"):
        CrossEncoderVerifier(tmp_path)


def test_labels_must_name_entailment(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="entailment"):
        CrossEncoderVerifier(tmp_path, labels=("yes", "no"))
