"""The default embedding model run with ONNX Runtime and tokenizers directly.

fastembed runs this model as tokenize → ONNX session → mean pooling over the attention
mask → L2 normalisation. This module does exactly those steps with the same libraries and
the same settings (the session options fastembed sets, the tokenizer set up from the
model's ``tokenizer_config.json`` as fastembed's ``load_tokenizer`` does), so the vectors
are the same (tests/core/test_onnx_text.py compares them with fastembed's). What it saves
is fastembed's import: its model registry, Hugging Face hub client and helpers cost a
long-lived process ~17-30 MB that this model never uses. Other models still go through
fastembed (see core.embeddings).

The session loads a lean copy of the model whose embedding tables stay int8 in memory
(core.onnx_lean: the same vectors, ~34 MB less).
"""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

Rows = npt.NDArray[np.float32]
log = logging.getLogger(__name__)
LEAN_NAME = "model.lean.onnx"
LEAN_TIMEOUT_S = 120.0


def model_file(model_dir: Path) -> Path:
    """The model to load: the lean copy (core.onnx_lean), made once in a child process and
    cached beside the model; the model itself when the copy cannot be made."""
    lean = model_dir / LEAN_NAME
    if not _lean_intact(lean):
        try:
            subprocess.run(
                [sys.executable, "-m", "core.onnx_lean", str(model_dir / "model.onnx"), str(lean)],
                check=True,
                capture_output=True,
                timeout=LEAN_TIMEOUT_S,
                cwd=Path(__file__).resolve().parent.parent,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            log.info("using the model as shipped (no lean copy: %s)", exc)
            return model_dir / "model.onnx"
    return lean if _lean_intact(lean) else model_dir / "model.onnx"


def _lean_intact(lean: Path) -> bool:
    """The lean copy exists and matches the checksum written with it (a copy cut short by
    a full disk or a kill is made again)."""
    try:
        expected = lean.with_name(lean.name + ".sha256").read_text(encoding="ascii").strip()
        return hashlib.sha256(lean.read_bytes()).hexdigest() == expected
    except OSError:
        return False


def load_tokenizer(model_dir: Path) -> Any:
    """The model's tokenizer, truncating and padding as fastembed sets it up: truncation at
    the config's ``model_max_length`` (right), padding to the batch's longest text."""
    from tokenizers import Tokenizer

    config = json.loads((model_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.enable_truncation(
        max_length=int(config["model_max_length"]),
        direction=config.get("truncation_side") or "right",
    )
    pad_token = config["pad_token"]
    tokenizer.enable_padding(
        direction=config.get("padding_side") or "right",
        pad_id=tokenizer.token_to_id(pad_token),
        pad_token=pad_token,
    )
    return tokenizer


def load_session(model_file: Path, threads: int | None, arena: bool) -> Any:
    """An ONNX Runtime CPU session with fastembed's options (all graph optimisations: they
    fold the int8 weights' dequantisation once instead of at every run)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.enable_cpu_mem_arena = arena
    if threads is not None:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = threads
    return ort.InferenceSession(
        str(model_file), sess_options=options, providers=["CPUExecutionProvider"]
    )


class OnnxTextModel:
    """A sentence-transformers model (mean pooling, normalised) exported to ONNX.

    Offers the two calls of fastembed's ``TextEmbedding`` that core uses, ``embed`` and
    ``query_embed``, so the embedder can hold either."""

    def __init__(self, model_dir: Path, threads: int | None = None, arena: bool = False) -> None:
        self.tokenizer = load_tokenizer(model_dir)
        self.session = load_session(model_file(model_dir), threads, arena)
        self._inputs = {node.name for node in self.session.get_inputs()}
        self.embed_documents_dim = int(self.session.get_outputs()[0].shape[-1])

    def embed(self, documents: Iterable[str], batch_size: int = 256) -> Iterator[Rows]:
        """One normalised vector per document, in order, run ``batch_size`` at a time."""
        batch: list[str] = []
        for document in documents:
            batch.append(document)
            if len(batch) == batch_size:
                yield from self._run(batch)
                batch = []
        if batch:
            yield from self._run(batch)

    def query_embed(self, queries: Iterable[str]) -> Iterator[Rows]:
        """Queries are embedded as documents are (this model has no query prefix)."""
        return self.embed(queries)

    def _run(self, texts: list[str]) -> Rows:
        encoded = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        feed = {"input_ids": ids}
        if "attention_mask" in self._inputs:
            feed["attention_mask"] = mask
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        output = self.session.run(None, feed)[0]
        return _normalise(_mean_pool(output, mask)).astype(output.dtype, copy=False)


def _mean_pool(tokens: Any, mask: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """The mean of the real tokens' vectors (padding left out), summed in float64."""
    summed = np.sum(tokens, axis=1, where=mask[:, :, np.newaxis].astype(bool), dtype=np.float64)
    counts = np.sum(mask, axis=1, keepdims=True)
    pooled: npt.NDArray[np.float64] = summed / np.maximum(counts, 1e-9)
    return pooled


def _normalise(rows: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    norms = np.maximum(np.linalg.norm(rows, ord=2, axis=1, keepdims=True), 1e-12)
    out: npt.NDArray[np.float64] = rows / norms
    return out
