"""Settings shared by the entry points (CLI, MCP server, language server).

Only entry points call :func:`Settings.from_env`; everything else receives a Settings or a
ready MemoryService.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import platformdirs

from core.embeddings import DEFAULT_MODEL, FastEmbedEmbedder, UnavailableEmbedder
from core.service import MemoryService

APP = "devmemory"


@dataclass(frozen=True)
class Settings:
    """Where the store lives and which embedding model to run."""

    db_path: Path | str  # a file, or a postgresql:// URL (kept as given: libpq reads it)
    cache_dir: Path
    model: str = DEFAULT_MODEL
    model_dir: Path | None = None
    embeddings: bool = True
    db_read: str | None = None  # a read replica of a postgresql:// store (DEVMEM_DB_READ)

    @classmethod
    def from_env(
        cls, env: Mapping[str, str], db: str | None = None, db_read: str | None = None
    ) -> Settings:
        """``--db`` beats ``DEVMEM_DB`` beats the platform data dir; ``--db-read`` beats
        ``DEVMEM_DB_READ``."""
        db_path = store_location(db or env.get("DEVMEM_DB") or str(default_db_path()))
        cache = Path(env.get("DEVMEM_CACHE_DIR") or platformdirs.user_cache_dir(APP)).expanduser()
        model_dir = env.get("DEVMEM_MODEL_DIR")
        return cls(
            db_path=db_path,
            cache_dir=cache,
            model=env.get("DEVMEM_MODEL") or DEFAULT_MODEL,
            model_dir=Path(model_dir).expanduser() if model_dir else None,
            embeddings=env.get("DEVMEM_EMBEDDINGS", "1").lower() not in ("0", "false", "off", "no"),
            db_read=db_read or _env_replica(env, db_path),
        )


def _env_replica(env: Mapping[str, str], store: Path | str) -> str | None:
    """``DEVMEM_DB_READ`` for a PostgreSQL store; a SQLite store ignores it (the variable is
    set once for the team store, and a personal store has no replica)."""
    is_pg = str(store).startswith(("postgresql://", "postgres://"))
    return (env.get("DEVMEM_DB_READ") or None) if is_pg else None


def store_location(text: str) -> Path | str:
    """A store location as given: a URL (``postgresql://…``, ``sqlite:///…``) stays text
    (a Path would fold its ``//``); anything else is a file path (``~`` expanded)."""
    return text if "://" in text else Path(text).expanduser()


def shown_location(location: Path | str) -> str:
    """A store location fit to print or log: a URL without its password."""
    text = str(location)
    if "://" not in text:
        return text
    parts = urlsplit(text)
    netloc = parts.netloc
    if "@" in netloc and ":" in netloc.split("@", 1)[0]:
        netloc = netloc.split("@", 1)[0].split(":", 1)[0] + ":***@" + netloc.split("@", 1)[1]
    query = "&".join(
        "password=***" if q.lower().startswith("password=") else q
        for q in parts.query.split("&")
        if q
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def default_db_path() -> Path:
    return Path(platformdirs.user_data_dir(APP)) / "memories.db"


def build_service(
    settings: Settings, embedder: FastEmbedEmbedder | UnavailableEmbedder | None = None
) -> MemoryService:
    """The composition root: store + embedder (loading in the background) + service.

    ``embedder`` shares an already loaded model (the engine serves several stores with one).
    """
    return MemoryService.open(
        settings.db_path, embedder or make_embedder(settings), read=settings.db_read
    )


def make_embedder(settings: Settings) -> FastEmbedEmbedder | UnavailableEmbedder:
    """The embedder ``settings`` ask for, loading in the background."""
    if settings.embeddings:
        return FastEmbedEmbedder(
            settings.cache_dir / "models", settings.model, settings.model_dir
        ).start()
    return UnavailableEmbedder("embeddings are switched off (DEVMEM_EMBEDDINGS=0)")


def git_project(cwd: Path) -> str | None:
    """The name of the git repository containing ``cwd`` (its top folder's name), if any."""
    root = git_root(cwd)
    return root.name if root else None


def git_root(cwd: Path) -> Path | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(out.stdout.strip()) if out.returncode == 0 and out.stdout.strip() else None
