"""The default model run on ONNX Runtime directly gives fastembed's vectors (issue 17).

The engine dropped fastembed's import for the default model to save memory; the stored
vectors of every existing store must stay valid, so the two pipelines are compared on
texts that exercise truncation (over 256 tokens), padding (mixed lengths in one batch),
unicode and an empty string, and on the tokenizer's settings themselves.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.embeddings import DEFAULT_MODEL, FastEmbedEmbedder, assemble_default_model
from core.onnx_text import OnnxTextModel

TEXTS = [
    "why is numpy pinned below 2.0?",
    "",
    "retry budget of the upload job " * 45,  # ~280 tokens: truncated at 256
    "Fixed: TypeError: 'NoneType' object is not subscriptable in parse_config()",
    "Zoë's café — naïve façade, 東京, emoji 🚀 and tabs\tand\nnewlines",
    "k8s",
    "We chose PostgreSQL over MySQL because of row-level security and pgvector.",
]


@pytest.fixture(scope="module")
def model_dir(model_cache: Path) -> Path:
    return assemble_default_model(model_cache / "models")


@pytest.fixture(scope="module")
def fastembed_model(model_dir: Path) -> object:
    from fastembed import TextEmbedding

    return TextEmbedding(
        DEFAULT_MODEL,
        specific_model_path=str(model_dir),
        local_files_only=True,
        enable_cpu_mem_arena=False,
    )


def test_same_vectors_as_fastembed(model_dir: Path, fastembed_model: object) -> None:
    ours, theirs = OnnxTextModel(model_dir), fastembed_model
    for batch_size in (16, 3):  # padding differs per batch: each vector must not care
        mine = np.asarray(list(ours.embed(TEXTS, batch_size=batch_size)))
        ref = np.asarray(list(theirs.embed(TEXTS, batch_size=batch_size)))  # type: ignore[attr-defined]
        assert mine.shape == ref.shape == (len(TEXTS), 384)
        assert mine.dtype == ref.dtype == np.float32
        np.testing.assert_allclose(mine, ref, atol=1e-5, rtol=0)
    query = np.asarray(list(ours.query_embed([TEXTS[0]])))
    ref_query = np.asarray(list(theirs.query_embed([TEXTS[0]])))  # type: ignore[attr-defined]
    np.testing.assert_allclose(query, ref_query, atol=1e-5, rtol=0)


def test_tokenizer_set_up_as_fastembed(model_dir: Path) -> None:
    from fastembed.common.preprocessor_utils import load_tokenizer

    theirs, _ = load_tokenizer(model_dir)
    ours = OnnxTextModel(model_dir).tokenizer
    assert ours.truncation == theirs.truncation
    assert ours.padding == theirs.padding
    assert [e.ids for e in ours.encode_batch(TEXTS)] == [e.ids for e in theirs.encode_batch(TEXTS)]


def test_the_embedder_uses_it_without_importing_fastembed(model_cache: Path) -> None:
    """In a fresh process: the default model loads and embeds with fastembed never imported."""
    import subprocess
    import sys

    code = (
        "import sys; from pathlib import Path; from core.embeddings import FastEmbedEmbedder\n"
        f"e = FastEmbedEmbedder(Path({str(model_cache / 'models')!r}))\n"
        "assert e.wait(120), e.failure()\n"
        "v = e.embed_query('why is numpy pinned')\n"
        "assert v.shape == (384,) and abs(float((v * v).sum()) - 1) < 1e-5\n"
        "print('fastembed' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_embedder_vectors_unchanged(embedder: FastEmbedEmbedder, fastembed_model: object) -> None:
    """The service's embedder (sorting by length, normalising again) against fastembed."""
    ref = np.asarray(list(fastembed_model.embed(TEXTS, batch_size=16)))  # type: ignore[attr-defined]
    ref /= np.linalg.norm(ref, axis=1, keepdims=True).clip(min=1e-12)
    np.testing.assert_allclose(embedder.embed_documents(TEXTS), ref, atol=1e-5, rtol=0)


def test_the_lean_copy_keeps_the_vectors_and_is_made_again_when_damaged(
    model_dir: Path, fastembed_model: object
) -> None:
    from core.onnx_text import LEAN_NAME, model_file

    lean = model_dir / LEAN_NAME
    assert model_file(model_dir) == lean  # made once (or already made by another test)
    ours = np.asarray(list(OnnxTextModel(model_dir).embed(TEXTS[:4])))
    ref = np.asarray(list(fastembed_model.embed(TEXTS[:4])))  # type: ignore[attr-defined]
    assert np.array_equal(ours, ref)  # the same multiplications: bit for bit
    size = lean.stat().st_size
    assert size < (model_dir / "model.onnx").stat().st_size + 4096
    lean.write_bytes(lean.read_bytes()[: size // 2])  # cut short (a full disk, a kill)
    assert model_file(model_dir) == lean and lean.stat().st_size == size
