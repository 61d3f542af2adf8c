"""DevMemory core: the public API every adapter (MCP, LSP, CLI, connectors) imports from.

``from core import MemoryService, build_service, Memory, NotFound, …`` — adapters import
nothing from ``core.<module>`` (tests/test_architecture.py enforces it). The names load
lazily (PEP 562): ``from core import X`` imports only X's module, so the MCP server's cold
start does not pay for numpy or the embedding model until a tool needs the store.
`core` never imports an adapter (`mcp_server`, `lsp_server`, `cli`) or a connector.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name → (module, name in it)
_EXPORTS: dict[str, tuple[str, str]] = {
    # the service and how to build it
    "MemoryService": ("core.service", "MemoryService"),
    "Settings": ("core.config", "Settings"),
    "build_service": ("core.config", "build_service"),
    "shown_location": ("core.config", "shown_location"),
    "make_embedder": ("core.config", "make_embedder"),
    "release_free_heap": ("core.embeddings", "release_free_heap"),
    "pin_mmap_threshold": ("core.embeddings", "pin_mmap_threshold"),
    "git_project": ("core.config", "git_project"),
    "git_root": ("core.config", "git_root"),
    # errors
    **{
        name: ("core.errors", name)
        for name in (
            "DevMemError",
            "InvalidInput",
            "NotFound",
            "StoreError",
            "AccessDenied",
            "ConnectorError",
            "ConnectorAuthError",
        )
    },
    # the team store: teams, shares, tokens, people, audit (PostgreSQL)
    "TeamService": ("core.team", "TeamService"),
    "migrate_store": ("core.team_migrate", "migrate_store"),
    "MigrateResult": ("core.team_migrate", "MigrateResult"),
    "Authenticator": ("core.auth", "Authenticator"),
    "OidcSettings": ("core.auth", "OidcSettings"),
    "OidcVerifier": ("core.auth", "OidcVerifier"),
    "acting_as": ("core.acting", "acting_as"),
    "TEAM_ROLES": ("core.storage.pg_auth", "TEAM_ROLES"),
    "Team": ("core.storage.pg_team", "Team"),
    "TeamMember": ("core.storage.pg_team", "Member"),
    "TokenInfo": ("core.storage.pg_team", "TokenInfo"),
    "AuditEntry": ("core.storage.pg_audit", "AuditEntry"),
    "AUDIT_ACTIONS": ("core.storage.pg_audit", "ACTIONS"),
    # models
    **{
        name: ("core.models", name)
        for name in (
            "KINDS",
            "SEARCH_MODES",
            "TEXT_ONLY_HEADING",
            "CodeAnchor",
            "EntityRef",
            "EntitySummary",
            "Hit",
            "Link",
            "Memory",
            "MemoryInput",
            "MemoryPatch",
            "ProgressCallback",
            "ProgressEvent",
            "RedactionNote",
            "SearchFilters",
            "SearchResult",
            "Version",
            "WriteResult",
            "no_progress",
        )
    },
    # graph views returned by the service
    **{
        name: ("core.graph", name) for name in ("EntityPath", "EntityView", "Neighbour", "PathStep")
    },
    "Related": ("core.graph_api", "Related"),
    "RelatedMemory": ("core.graph_api", "RelatedMemory"),
    "MAX_GRAPH_PICTURE_NODES": ("core.graph_view", "MAX_NODES_LIMIT"),
    # code context (hover, lens, code actions): its defaults
    "CODE_SEARCH_DEPTH": ("core.code_context", "SEARCH_DEPTH"),
    "RELEVANCE_FLOOR": ("core.code_context", "RELEVANCE_FLOOR"),
    # maintenance reports
    "Check": ("core.maintenance", "Check"),
    "DoctorReport": ("core.maintenance", "DoctorReport"),
    "RECOVERY": ("core.maintenance", "RECOVERY"),
    # import and export
    **{
        name: ("core.portability", name)
        for name in (
            "export_jsonl",
            "export_markdown",
            "import_records",
            "read_jsonl",
            "read_markdown",
        )
    },
    # helpers adapters legitimately share: code anchors, redaction, times, safe YAML, mail domains
    **{name: ("core.anchors", name) for name in ("Located", "SymbolSpan", "fingerprint", "locate")},
    "RedactingFilter": ("core.redact", "RedactingFilter"),
    "contains_secret": ("core.redact", "contains_secret"),
    "redact_secrets": ("core.redact", "redact"),  # not "redact": that is the subpackage's name
    "install_redaction": ("core.logs", "install_redaction"),
    "to_iso": ("core.timeutil", "to_iso"),
    "safe_yaml_load": ("core.yamlsafe", "load"),
    "PUBLIC_MAIL": ("core.extract_patterns", "PUBLIC_MAIL"),
    "registrable_domain": ("core.extract_patterns", "registrable_domain"),
    # the per-user engine (devmem serve): how clients find, check and start it
    "EngineHeader": ("core.engine_link", "Header"),
    "EngineUnavailable": ("core.engine_link", "EngineUnavailable"),
    "StaleEngine": ("core.engine_link", "StaleEngine"),
    "engine_enabled": ("core.engine_link", "engine_enabled"),
    "engine_serves": ("core.engine_link", "engine_serves"),
    "open_engine_connection": ("core.engine_link", "open_connection"),
    "watch_engine": ("core.engine_link", "watch_engine"),
    "write_all": ("core.engine_link", "write_all"),
    "engine_request": ("core.engine_link", "request"),
    "engine_code_version": ("core.engine_link", "code_version"),
    "engine_socket_path": ("core.engine_link", "socket_path"),
    "engine_lock_path": ("core.engine_link", "lock_path"),
    "engine_log_path": ("core.engine_link", "log_path"),
    "secure_runtime_dir": ("core.engine_link", "secure_runtime_dir"),
    "check_owned": ("core.engine_link", "check_owned"),
    "read_engine_line": ("core.engine_link", "read_line"),
    "ENGINE_ENV": ("core.engine_link", "ENGINE_ENV"),
    "RUNTIME_ENV": ("core.engine_link", "RUNTIME_ENV"),
    "ENGINE_PROTOCOL": ("core.engine_link", "PROTOCOL"),
}

__all__ = [  # literal, so that mypy and ruff see the re-exports (tests check it matches _EXPORTS)
    "EngineHeader",
    "EngineUnavailable",
    "StaleEngine",
    "engine_enabled",
    "engine_serves",
    "open_engine_connection",
    "watch_engine",
    "write_all",
    "engine_request",
    "engine_code_version",
    "engine_socket_path",
    "engine_lock_path",
    "engine_log_path",
    "secure_runtime_dir",
    "check_owned",
    "read_engine_line",
    "ENGINE_ENV",
    "RUNTIME_ENV",
    "ENGINE_PROTOCOL",
    "__version__",
    "AccessDenied",
    "acting_as",
    "AUDIT_ACTIONS",
    "AuditEntry",
    "migrate_store",
    "MigrateResult",
    "Authenticator",
    "OidcSettings",
    "OidcVerifier",
    "Team",
    "TEAM_ROLES",
    "TeamMember",
    "TeamService",
    "TokenInfo",
    "build_service",
    "shown_location",
    "make_embedder",
    "release_free_heap",
    "pin_mmap_threshold",
    "Check",
    "CODE_SEARCH_DEPTH",
    "CodeAnchor",
    "ConnectorAuthError",
    "ConnectorError",
    "contains_secret",
    "DevMemError",
    "DoctorReport",
    "EntityPath",
    "EntityRef",
    "EntitySummary",
    "EntityView",
    "export_jsonl",
    "export_markdown",
    "fingerprint",
    "git_project",
    "git_root",
    "Hit",
    "import_records",
    "install_redaction",
    "InvalidInput",
    "KINDS",
    "Link",
    "locate",
    "Located",
    "MAX_GRAPH_PICTURE_NODES",
    "Memory",
    "MemoryInput",
    "MemoryPatch",
    "MemoryService",
    "Neighbour",
    "no_progress",
    "NotFound",
    "PathStep",
    "ProgressCallback",
    "ProgressEvent",
    "PUBLIC_MAIL",
    "read_jsonl",
    "read_markdown",
    "RECOVERY",
    "redact_secrets",
    "RedactingFilter",
    "RedactionNote",
    "registrable_domain",
    "Related",
    "RELEVANCE_FLOOR",
    "RelatedMemory",
    "safe_yaml_load",
    "SEARCH_MODES",
    "TEXT_ONLY_HEADING",
    "SearchFilters",
    "SearchResult",
    "Settings",
    "StoreError",
    "SymbolSpan",
    "to_iso",
    "Version",
    "WriteResult",
]


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use (PEP 562) and cache the name here."""
    try:
        module, attr = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'core' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # what mypy and editors see; at run time __getattr__ loads these on demand
    from core.acting import acting_as
    from core.anchors import Located, SymbolSpan, fingerprint, locate
    from core.auth import Authenticator, OidcSettings, OidcVerifier
    from core.code_context import RELEVANCE_FLOOR
    from core.code_context import SEARCH_DEPTH as CODE_SEARCH_DEPTH
    from core.config import (
        Settings,
        build_service,
        git_project,
        git_root,
        make_embedder,
        shown_location,
    )
    from core.embeddings import pin_mmap_threshold, release_free_heap
    from core.engine_link import (
        ENGINE_ENV,
        RUNTIME_ENV,
        EngineUnavailable,
        StaleEngine,
        check_owned,
        engine_enabled,
        engine_serves,
        secure_runtime_dir,
        watch_engine,
        write_all,
    )
    from core.engine_link import (
        PROTOCOL as ENGINE_PROTOCOL,
    )
    from core.engine_link import (
        Header as EngineHeader,
    )
    from core.engine_link import (
        code_version as engine_code_version,
    )
    from core.engine_link import (
        lock_path as engine_lock_path,
    )
    from core.engine_link import (
        log_path as engine_log_path,
    )
    from core.engine_link import (
        open_connection as open_engine_connection,
    )
    from core.engine_link import (
        read_line as read_engine_line,
    )
    from core.engine_link import (
        request as engine_request,
    )
    from core.engine_link import (
        socket_path as engine_socket_path,
    )
    from core.errors import (
        AccessDenied,
        ConnectorAuthError,
        ConnectorError,
        DevMemError,
        InvalidInput,
        NotFound,
        StoreError,
    )
    from core.extract_patterns import PUBLIC_MAIL, registrable_domain
    from core.graph import EntityPath, EntityView, Neighbour, PathStep
    from core.graph_api import Related, RelatedMemory
    from core.graph_view import MAX_NODES_LIMIT as MAX_GRAPH_PICTURE_NODES
    from core.logs import install_redaction
    from core.maintenance import RECOVERY, Check, DoctorReport
    from core.models import (
        KINDS,
        SEARCH_MODES,
        TEXT_ONLY_HEADING,
        CodeAnchor,
        EntityRef,
        EntitySummary,
        Hit,
        Link,
        Memory,
        MemoryInput,
        MemoryPatch,
        ProgressCallback,
        ProgressEvent,
        RedactionNote,
        SearchFilters,
        SearchResult,
        Version,
        WriteResult,
        no_progress,
    )
    from core.portability import (
        export_jsonl,
        export_markdown,
        import_records,
        read_jsonl,
        read_markdown,
    )
    from core.redact import RedactingFilter, contains_secret
    from core.redact import redact as redact_secrets
    from core.service import MemoryService
    from core.storage.pg_audit import ACTIONS as AUDIT_ACTIONS
    from core.storage.pg_audit import AuditEntry
    from core.storage.pg_auth import TEAM_ROLES
    from core.storage.pg_team import Member as TeamMember
    from core.storage.pg_team import Team, TokenInfo
    from core.team import TeamService
    from core.team_migrate import MigrateResult, migrate_store
    from core.timeutil import to_iso
    from core.yamlsafe import load as safe_yaml_load
