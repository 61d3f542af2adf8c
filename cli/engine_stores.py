"""The engine's stores: one service per store location, one embedding model per model choice.

Clients name their store (``--db`` / ``DEVMEM_DB``, resolved by the client); every client of
the same store shares one service, and every store shares the model its settings ask for,
so three assistants and an editor cost one model load.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from core import MemoryService, Settings, build_service, make_embedder, release_free_heap
from mcp_server.runtime import LazyService

ModelKey = tuple[str, str, str, bool]
MODEL_WAIT_S = 30.0


class SharedService(MemoryService):
    """A client's view of a shared service: ``close`` is the engine's business, not the client's.

    (The language server closes its service when the client switches stores or exits; the
    other clients of that store keep using it.)"""

    def __init__(self, inner: MemoryService) -> None:  # noqa: D107 - wraps, does not rebuild
        self.__dict__["_inner"] = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["_inner"], name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.__dict__["_inner"], name, value)

    def close(self) -> None:
        return None


class Stores:
    """Services keyed by store location, embedders keyed by model; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._embedders: dict[ModelKey, Any] = {}
        self._services: dict[str, LazyService] = {}
        self.model_loads = 0

    def settings(self, env: Mapping[str, str], db: str | None) -> Settings:
        """The client's settings: its forwarded environment, its ``--db``."""
        return Settings.from_env(env, db)

    def lazy(self, settings: Settings) -> LazyService:
        """The (lazily opened) service of ``settings``' store, shared by every client of it."""
        location = settings.db_path
        key = location if isinstance(location, str) else str(location.expanduser().resolve())
        with self._lock:
            found = self._services.get(key)
            if found is None:
                found = LazyService(lambda: self._open(settings))
                self._services[key] = found
            return found

    def service(self, settings: Settings) -> MemoryService:
        """The store's service for a client that may close it (the close is a no-op)."""
        return SharedService(self.lazy(settings).get())

    def _open(self, settings: Settings) -> MemoryService:
        service = build_service(settings, self._embedder(settings))
        # The first tool call of a fresh engine waits for the model (a second or two) so that
        # its recall is hybrid; later clients find it loaded. A model that cannot load
        # (reported by the service) leaves text and graph search working.
        if service.embedder.wait(MODEL_WAIT_S):
            release_free_heap()  # the session build's ~60 MB of freed allocations
        return service

    def _embedder(self, settings: Settings) -> Any:
        key = (
            str(settings.cache_dir),
            settings.model,
            str(settings.model_dir),
            settings.embeddings,
        )
        with self._lock:
            if key not in self._embedders:
                self._embedders[key] = make_embedder(settings)
                self.model_loads += int(settings.embeddings)
            return self._embedders[key]

    def describe(self) -> dict[str, Any]:
        """What ``serve status`` shows: the stores open and whether their models are loaded."""
        with self._lock:
            stores = sorted(self._services)
            models = [
                {"model": key[1], "ready": bool(emb.is_ready()), "failure": emb.failure()}
                for key, emb in self._embedders.items()
            ]
        return {"stores": stores, "models": models, "model_loads": self.model_loads}

    def close(self) -> None:
        with self._lock:
            services = list(self._services.values())
            self._services.clear()
        for lazy in services:
            lazy.close()
