"""What a commit gives the embedding model: its message, files and symbols and the first
characters of its changed lines; the rest of them goes to the full-text index only
(core.models.TEXT_ONLY_HEADING)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from connectors.base import SyncContext
from connectors.git import GitConnector
from core import TEXT_ONLY_HEADING
from core.embeddings import FastEmbedEmbedder, Vector
from core.service import TEXT_ONLY_EMBEDDED_CHARS, MemoryService


class Recording:
    """The session's real model, keeping the texts it was asked to embed as documents."""

    def __init__(self, inner: FastEmbedEmbedder) -> None:
        self.inner = inner
        self.identity, self.dim = inner.identity, inner.dim
        self.documents: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def embed_documents(self, texts: Sequence[str]) -> Vector:
        self.documents += texts
        return self.inner.embed_documents(texts)


@pytest.fixture
def recorded(
    db_path: Path, embedder: FastEmbedEmbedder
) -> Iterator[tuple[MemoryService, Recording]]:
    rec = Recording(embedder)
    service = MemoryService.open(db_path, rec)
    yield service, rec
    service.close()


def _guarded_cart(repo: Any) -> str:
    repo.write("shop/cart.py", "def total(prices):\n    return sum(prices)\n")
    repo.commit("Add the cart")
    repo.write(
        "shop/cart.py",
        "def total(prices):\n"
        + "".join(f"    check_rule_{n}_of_the_pricing_policy(prices)\n" for n in range(12))
        + "    if any(p < 0 for p in prices):\n"
        '        raise ValueError("a negative price cannot be totalled")\n'
        "    return sum(prices)\n",
    )
    return repo.commit("Refuse carts that would pay the customer\n\nRefunds go elsewhere.")


def test_the_model_reads_the_message_files_symbols_and_only_the_first_changed_lines(
    repo: Any, recorded: tuple[MemoryService, Recording]
) -> None:
    svc, rec = recorded
    sha = _guarded_cart(repo)
    GitConnector(repo.path).sync(SyncContext(svc, "git"))
    stored = svc.find_external("git", f"shop:{sha}")
    assert stored is not None and f"\n\n{TEXT_ONLY_HEADING}\n" in stored.content
    assert "a negative price cannot be totalled" in stored.content
    text = next(t for t in rec.documents if t.startswith("Refuse carts"))
    assert "Refunds go elsewhere." in text and "shop/cart.py" in text and "total" in text
    assert TEXT_ONLY_HEADING not in text and "negative price" not in text
    section = stored.content.split(f"{TEXT_ONLY_HEADING}\n", 1)[1]
    assert text.endswith("\n" + section[:TEXT_ONLY_EMBEDDED_CHARS])
    assert len(section) > 3 * TEXT_ONLY_EMBEDDED_CHARS  # most of it is left to the text index
    # the words of the changed lines still find the commit, through the full-text index
    hits = svc.recall("ValueError a negative price cannot be totalled", mode="text").hits
    assert hits and hits[0].memory.metadata["sha"] == sha


def test_reindex_embeds_the_same_text_as_the_sync(
    repo: Any, recorded: tuple[MemoryService, Recording]
) -> None:
    svc, rec = recorded
    _guarded_cart(repo)
    GitConnector(repo.path).sync(SyncContext(svc, "git"))
    synced = sorted(rec.documents)
    rec.documents.clear()
    svc.reindex()
    assert sorted(rec.documents) == synced
