"""The server's settings: `initializationOptions` and `workspace/configuration` (section
``devmemory``) share one shape, fixed by docs/lsp-contract.md::

    {"database": {"path": "…"}, "hover": {"enabled": true}, "codeLens": {"enabled": true},
     "diagnostics": {"enabled": false}, "relevanceFloor": 0.35, "project": null}

Every key is optional. A client may send partial or wrong values (hand-written Neovim or
Helix config): each key is taken on its own, and a bad one keeps its previous value and is
reported in the log instead of rejecting the whole object.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

log = logging.getLogger(__name__)

SECTION = "devmemory"


class Toggle(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    enabled: bool


class Database(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    path: str | None = None


class ServerConfig(BaseModel):
    """The contract's configuration object, with its defaults."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    database: Database = Database()
    hover: Toggle = Toggle(enabled=True)
    code_lens: Toggle = Field(default=Toggle(enabled=True), alias="codeLens")
    diagnostics: Toggle = Toggle(enabled=False)
    relevance_floor: float = Field(default=0.35, ge=0.0, le=1.0, alias="relevanceFloor")
    project: str | None = None

    @property
    def database_path(self) -> str | None:
        path = (self.database.path or "").strip()
        return path or None

    def merged(self, raw: Any) -> ServerConfig:
        """This config with the keys of ``raw`` applied one by one (bad keys are skipped)."""
        if not isinstance(raw, dict):
            if raw is not None:
                log.warning("ignoring %s configuration that is not an object: %r", SECTION, raw)
            return self
        if isinstance(raw.get(SECTION), dict):  # `{"devmemory": {…}}`, as some editors nest it
            raw = raw[SECTION]
        data = self.model_dump(by_alias=True)
        for key, value in raw.items():
            if key not in data:
                continue
            candidate = {**data, key: _merge_value(data[key], value)}
            try:
                ServerConfig.model_validate(candidate)
            except ValidationError as exc:
                log.warning(
                    "ignoring %s.%s = %r: %s",
                    SECTION,
                    key,
                    value,
                    exc.errors()[0].get("msg", "invalid"),
                )
                continue
            data = candidate
        return ServerConfig.model_validate(data)


def _merge_value(old: Any, new: Any) -> Any:
    if isinstance(old, dict) and isinstance(new, dict):
        return {**old, **new}
    if isinstance(old, dict) and "enabled" in old and isinstance(new, bool):
        return {"enabled": new}  # `"hover": false` as shorthand for `{"enabled": false}`
    if isinstance(new, str) and not new.strip():
        return None  # `"project": ""` is the editor setting's way of saying "no override"
    return new


def section_of(settings: Any) -> Any:
    """The ``devmemory`` object inside a `workspace/didChangeConfiguration` ``settings``."""
    if isinstance(settings, dict) and isinstance(settings.get(SECTION), dict):
        return settings[SECTION]
    return None
