"""DevMemory core: the memory store, search, embeddings, knowledge graph and service facade.

`core` never imports an adapter (`mcp_server`, `lsp_server`, `cli`) or a connector.
The public entry point is :class:`core.service.MemoryService`.
"""

__version__ = "0.1.0"
